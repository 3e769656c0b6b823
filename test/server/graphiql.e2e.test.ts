import { getOperationAST, parse } from 'graphql';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildSchema } from '../../src/server/schema';
import { measureOperation } from '../../src/server/limits';
import { createMessages, createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`Skipping the GraphiQL browser test: ${CHROMIUM} does not exist. Install it with "apt-get install -y chromium".`);
}
const inBrowser = haveChromium ? it : it.skip;

const QUERY = 'query E2E { sessions(first: 5) { totalCount nodes { sessionId channel messageCount } } }';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
/** Requests the page tried to send anywhere but 127.0.0.1; each was aborted. */
const outside: string[] = [];
/** Console errors, page errors and Content-Security-Policy violations. */
const problems: string[] = [];
/** Authorization headers of the page's POSTs to /graphql. */
const authorizations: (string | undefined)[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  server = await startTestServer();
  const session = await createSession(server.db, { externalId: 'e2e-graphiql-session', channel: 'web' });
  await createMessages(server.db, session, [{ role: 'USER' }, { role: 'ASSISTANT' }]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  context = await browser.newContext();
  await context.route('**/*', async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1') {
      outside.push(url.href);
      await route.abort('blockedbyclient');
      return;
    }
    if (request.method() === 'POST' && url.pathname === '/graphql') authorizations.push(request.headers()['authorization']);
    await route.continue();
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** What GraphiQL sent to fetch the schema, and what it got back. */
interface Introspection {
  query: string;
  response: { data?: unknown; errors?: unknown[]; extensions?: { cost?: { requested: number | null; limit: number } } };
}

/** Opens GraphiQL at /graphiql and waits until its editor is ready and its schema was fetched. */
async function openGraphiQL(): Promise<{ page: Page; introspection: Introspection }> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  const introspected = page.waitForResponse((response) => {
    const body = response.request().postDataJSON() as { operationName?: string } | null;
    return new URL(response.url()).pathname === '/graphql' && body?.operationName === 'IntrospectionQuery';
  });
  await page.goto(new URL('/graphiql', server.url).href);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20_000 });
  const response = await introspected;
  const { query } = response.request().postDataJSON() as { query: string };
  return { page, introspection: { query, response: (await response.json()) as Introspection['response'] } };
}

inBrowser('fetches the schema within the default query limits', async () => {
  const { page, introspection } = await openGraphiQL();
  expect(introspection.response.errors).toBeUndefined();
  expect(introspection.response.data).toHaveProperty('__schema');
  const document = parse(introspection.query);
  const measured = measureOperation(await buildSchema(), document, getOperationAST(document)!);
  const { maxDepth, maxAliases, maxCost } = server.config.graphql;
  expect(measured.depth).toBeLessThanOrEqual(maxDepth);
  expect(measured.aliases).toBeLessThanOrEqual(maxAliases);
  expect(introspection.response.extensions?.cost).toEqual({ requested: measured.cost, limit: maxCost });
  await page.close();
});

inBrowser('runs a sessions query with the pasted API key and shows the result', async () => {
  const { page } = await openGraphiQL();
  await page.fill('#convoql-api-key', server.apiKey);

  await page.click('.graphiql-query-editor .CodeMirror');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(QUERY);
  // GraphiQL reads the operation name from the editor after a short debounce; the tab title shows it has.
  await page.locator('.graphiql-tab').getByText('E2E', { exact: true }).waitFor();
  await page.click('.graphiql-execute-button');

  const response = page.locator('.graphiql-response');
  await response.filter({ hasText: 'e2e-graphiql-session' }).waitFor({ timeout: 20_000 });
  const result = (await response.textContent()) ?? '';
  expect(result).toContain('"totalCount": 1');
  expect(result).toContain('"messageCount": 2');
  expect(result).toContain('"requested"');

  expect(authorizations).toContain(`Bearer ${server.apiKey}`);
  // A string expression: the test's TypeScript has no DOM types.
  expect(await page.evaluate('window.localStorage.getItem("convoql:apiKey")')).toBe(server.apiKey);

  // The same page answers a browser's GET /graphql, and the key survives in the browser's own storage.
  await page.goto(server.url);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20_000 });
  expect(await page.inputValue('#convoql-api-key')).toBe(server.apiKey);

  // A dialog injects a scroll-lock style, which the page's style nonce must admit.
  await page.click('[aria-label="Open settings dialog"]');
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });

  expect(outside).toEqual([]);
  expect(problems).toEqual([]);
});

inBrowser('runs a subscription over WebSocket and shows each new message as it is written', async () => {
  const session = await createSession(server.db, { externalId: 'e2e-live-session', channel: 'web' });
  const { page } = await openGraphiQL();
  await page.fill('#convoql-api-key', server.apiKey);
  await page.click('.graphiql-query-editor .CodeMirror');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(`subscription E2ELive { messageAdded(sessionId: "${sessionGid(session)}") { content role } }`);
  await page.locator('.graphiql-tab').getByText('E2ELive', { exact: true }).waitFor();
  await page.click('.graphiql-execute-button');

  // graphql-ws does not acknowledge a subscribe: write until the page shows a message, then one more.
  const response = page.locator('.graphiql-response');
  for (let attempt = 0; attempt < 20; attempt++) {
    await createMessages(server.db, session, [{ content: `live warm-up ${attempt}` }]);
    const shown = await response
      .filter({ hasText: 'live warm-up' })
      .waitFor({ timeout: 1_000 })
      .then(() => true)
      .catch(() => false);
    if (shown) break;
  }
  await createMessages(server.db, session, [{ content: 'written while watching', role: 'ASSISTANT' }]);
  await response.filter({ hasText: 'written while watching' }).waitFor({ timeout: 20_000 });
  expect((await response.textContent()) ?? '').toContain('"role": "ASSISTANT"');
  await page.close();
  expect(outside).toEqual([]);
  expect(problems).toEqual([]);
});
