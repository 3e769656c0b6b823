import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GRAPHIQL_PATH, mountGraphiQL } from '../../src/server/graphiql';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
let origin: string;

beforeAll(async () => {
  server = await startTestServer();
  origin = new URL(server.url).origin;
});

afterAll(() => server?.close());

async function getPage(path: string, accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8') {
  const response = await fetch(new URL(path, origin), { headers: { accept } });
  return { response, html: await response.text() };
}

/** What the page hands its script in the settings element. */
interface PageSettings {
  endpoint: string;
  demoApiKey: string | null;
  styleNonce: string | null;
}

function settingsOf(html: string): PageSettings {
  const json = /<script type="application\/json" id="convoql-settings">(.*?)<\/script>/.exec(html)?.[1];
  if (json === undefined) throw new Error(`Expected the page to contain its settings element, received: ${html.slice(0, 300)}`);
  return JSON.parse(json) as PageSettings;
}

/** The URLs of the page's script elements and stylesheets, in order. */
function assetUrls(html: string): { scripts: string[]; styles: string[] } {
  return {
    scripts: [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((match) => match[1]!),
    styles: [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((match) => match[1]!),
  };
}

describe('the GraphiQL page', () => {
  it.each([GRAPHIQL_PATH, '/graphql'])('is served at GET %s to a browser, with a strict Content-Security-Policy', async (path) => {
    const { response, html } = await getPage(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('<div id="graphiql"');
    expect(html).toContain('id="convoql-api-key"');
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("connect-src 'self';");
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    // Styles: our files, plus what GraphiQL injects at run time with this response's nonce.
    const nonce = /style-src 'self' 'nonce-([A-Za-z0-9+/=]{20,})';/.exec(policy)?.[1];
    expect(nonce).toBeDefined();
    expect(settingsOf(html).styleNonce).toBe(nonce);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('is the same page at both addresses, with a fresh nonce each time', async () => {
    const [first, second] = [await getPage('/graphql'), await getPage(GRAPHIQL_PATH)];
    expect(settingsOf(first.html).styleNonce).not.toBe(settingsOf(second.html).styleNonce);
    const withoutNonce = (html: string) => html.replace(/"styleNonce":"[^"]*"/, '');
    expect(withoutNonce(first.html)).toBe(withoutNonce(second.html));
  });

  it('does not replace GraphQL over GET for clients that ask for JSON', async () => {
    const response = await fetch(new URL('/graphql?query=%7B__typename%7D', origin), {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ data: { __typename: 'Query' } });
  });

  it('loads GraphiQL, React and our script from this server only', async () => {
    const { html } = await getPage(GRAPHIQL_PATH);
    const { scripts, styles } = assetUrls(html);
    expect(scripts.map((url) => url.replace(/^.*\//, ''))).toEqual([
      'react-18.3.1.production.min.js',
      'react-dom-18.3.1.production.min.js',
      'graphiql-4.1.2.umd.js',
      'graphql-ws-6.4.2.min.js',
      expect.stringMatching(/^convoql-[0-9a-f]{12}\.js$/),
    ]);
    expect(styles).toHaveLength(2);
    for (const [url, type] of [
      ...scripts.map((url) => [url, /^text\/javascript/] as const),
      ...styles.map((url) => [url, /^text\/css/] as const),
    ]) {
      expect(url).toMatch(/^\/graphiql\/assets\//);
      const response = await fetch(new URL(url, origin));
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      expect(response.headers.get('content-type')).toMatch(type);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(500);
    }
  });

  it('has no inline script and no address outside this server', async () => {
    const { html } = await getPage(GRAPHIQL_PATH);
    for (const [tag] of html.matchAll(/<script\b[^>]*>/g)) {
      expect(tag).toMatch(/\bsrc="\/|type="application\/json"/);
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    const absolute = [...html.matchAll(/(?:https?:)?\/\/[^\s"'<>)]+/gi)].map((match) => match[0]);
    expect(absolute.filter((url) => new URL(url, origin).origin !== origin)).toEqual([]);
  });

  it('answers an unknown asset with 404', async () => {
    expect((await fetch(new URL('/graphiql/assets/react-0.0.0.js', origin))).status).toBe(404);
  });
});

describe('the demo key', () => {
  let app: Server;
  let appOrigin: string;

  beforeAll(async () => {
    const application = express();
    mountGraphiQL(application, { demoApiKey: 'cq_demo</script><script>alert(1)</script>' });
    app = createServer(application);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  it('is handed to the page as JSON that cannot break out of its element', async () => {
    const html = await (await fetch(new URL(GRAPHIQL_PATH, appOrigin))).text();
    expect(settingsOf(html)).toEqual({
      endpoint: '/graphql',
      demoApiKey: 'cq_demo</script><script>alert(1)</script>',
      styleNonce: expect.any(String),
    });
    expect(html.match(/<script\b/g)).toHaveLength(6);
    expect(html).toContain('id="convoql-api-key-demo"');
  });

  it('is not in the page of a server without one', async () => {
    const { html } = await getPage(GRAPHIQL_PATH);
    expect(html).toContain('"demoApiKey":null');
    expect(html).not.toContain('convoql-api-key-demo');
  });
});
