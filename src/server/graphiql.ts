import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Express, Request } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** How the GraphiQL page is set up. */
export interface GraphiQLOptions {
  /** Pre-filled in the page's API key field while the browser has no key of its own (embedded demo database only). */
  readonly demoApiKey?: string;
  /** Path of the GraphQL endpoint the page talks to; `/graphql` unless given. */
  readonly endpoint?: string;
}

/** Where the page and its files are served. */
export const GRAPHIQL_PATH = '/graphiql';
const ASSET_PATH = `${GRAPHIQL_PATH}/assets`;

/**
 * The page's Content-Security-Policy: scripts, styles and connections from our own origin only;
 * GraphiQL's CSS embeds its fonts and icons as data: URLs. The one exception is a per-response
 * nonce for the `<style>` element GraphiQL's dialogs inject to lock scrolling.
 */
function contentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function pageHeaders(styleNonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(styleNonce),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // The page may carry the demo key, and its nonce must not be reused.
    'Cache-Control': 'no-store',
  };
}

/** The style nonce of the page being served, handed from `mountGraphiQL`'s middleware to the landing page plugin. */
const styleNonces = new AsyncLocalStorage<string>();

const JAVASCRIPT = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** One file the page loads: a file of an installed package, or text of our own. */
type Asset = { readonly url: string; readonly contentType: string } & ({ readonly file: string } | { readonly text: string });

/** The files the page loads, in load order; package versions are part of the URLs, so they can be cached for good. */
interface Assets {
  readonly scripts: readonly Asset[];
  readonly styles: readonly Asset[];
}

let assetsCache: Assets | undefined;

/** Finds GraphiQL's UMD bundle, React's UMD builds and our own script; throws when the installation lacks one. */
function loadAssets(): Assets {
  if (assetsCache) return assetsCache;
  const react = packageFile('react', 'umd/react.production.min.js');
  const reactDom = packageFile('react-dom', 'umd/react-dom.production.min.js');
  const graphiql = packageFile('graphiql', 'dist/index.umd.js');
  const graphiqlCss = packageFile('graphiql', 'dist/style.css');
  const graphqlWs = packageFile('graphql-ws', 'umd/graphql-ws.min.js');
  assetsCache = {
    scripts: [
      { url: `${ASSET_PATH}/react-${react.version}.production.min.js`, contentType: JAVASCRIPT, file: react.file },
      { url: `${ASSET_PATH}/react-dom-${reactDom.version}.production.min.js`, contentType: JAVASCRIPT, file: reactDom.file },
      { url: `${ASSET_PATH}/graphiql-${graphiql.version}.umd.js`, contentType: JAVASCRIPT, file: graphiql.file },
      { url: `${ASSET_PATH}/graphql-ws-${graphqlWs.version}.min.js`, contentType: JAVASCRIPT, file: graphqlWs.file },
      { url: `${ASSET_PATH}/convoql-${contentHash(CLIENT_SCRIPT)}.js`, contentType: JAVASCRIPT, text: CLIENT_SCRIPT },
    ],
    styles: [
      { url: `${ASSET_PATH}/graphiql-${graphiql.version}.css`, contentType: CSS, file: graphiqlCss.file },
      { url: `${ASSET_PATH}/convoql-${contentHash(CLIENT_STYLE)}.css`, contentType: CSS, text: CLIENT_STYLE },
    ],
  };
  return assetsCache;
}

/** A file inside an installed package, found through its package.json because the UMD paths are not in `exports`. */
function packageFile(packageName: string, relativePath: string): { file: string; version: string } {
  const manifest = require.resolve(`${packageName}/package.json`);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const file = path.join(path.dirname(manifest), relativePath);
  if (!existsSync(file)) {
    throw new Error(
      `GraphiQL needs ${packageName}/${relativePath}, which is missing from ${path.dirname(manifest)}; reinstall the dependencies with npm ci.`,
    );
  }
  return { file, version };
}

function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/**
 * Renders the GraphiQL HTML page. It has no inline script; `styleNonce` is the nonce its
 * Content-Security-Policy allows for styles injected at run time.
 */
export function renderGraphiQLPage(options: GraphiQLOptions & { styleNonce?: string } = {}): string {
  const { scripts, styles } = loadAssets();
  const settings = {
    endpoint: options.endpoint ?? '/graphql',
    demoApiKey: options.demoApiKey ?? null,
    styleNonce: options.styleNonce ?? null,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>convoql · GraphiQL</title>
<link rel="icon" href="data:,">
${styles.map((style) => `<link rel="stylesheet" href="${style.url}">`).join('\n')}
</head>
<body>
<form class="convoql-bar" id="convoql-bar" autocomplete="off">
  <strong class="convoql-name">convoql</strong>
  <label for="convoql-api-key">API key</label>
  <input id="convoql-api-key" name="apiKey" type="password" autocomplete="off" spellcheck="false" placeholder="cq_…  (sent as Authorization: Bearer &lt;key&gt;)">
  <button type="button" id="convoql-api-key-toggle">Show</button>
  ${settings.demoApiKey ? '<button type="button" id="convoql-api-key-demo">Use demo key</button>' : ''}
  <span class="convoql-hint" id="convoql-api-key-hint">Kept in this browser's local storage only.</span>
</form>
<div id="graphiql" class="convoql-graphiql">Loading GraphiQL…</div>
<script type="application/json" id="convoql-settings">${jsonForScriptElement(settings)}</script>
${scripts.map((script) => `<script src="${script.url}"></script>`).join('\n')}
</body>
</html>
`;
}

/** JSON that cannot end its `<script>` element or start a comment, whatever the strings in it hold. */
function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Serves GraphiQL from this server, with no CDN: the page at GET /graphiql and its files under
 * /graphiql/assets/. On GET /graphql from a browser it sets the page's security headers, and
 * `graphiqlLandingPagePlugin` answers with the same page; mount it before the GraphQL middleware.
 */
export function mountGraphiQL(app: Express, options: GraphiQLOptions = {}): void {
  const { scripts, styles } = loadAssets();
  for (const asset of [...scripts, ...styles]) {
    // The URLs change with the content (package version or hash), so browsers may keep the files for good.
    app.get(asset.url, (_request, response, next) => {
      response.setHeader('Content-Type', asset.contentType);
      response.setHeader('X-Content-Type-Options', 'nosniff');
      if ('text' in asset) {
        response.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
        response.send(asset.text);
        return;
      }
      // dotfiles: the installation itself may live below a dot-directory.
      response.sendFile(asset.file, { dotfiles: 'allow', maxAge: '1y', immutable: true }, (error?: Error) => {
        if (error && !response.headersSent) next(error);
      });
    });
  }
  app.get(GRAPHIQL_PATH, (_request, response) => {
    const styleNonce = newNonce();
    response
      .set(pageHeaders(styleNonce))
      .type('html')
      .send(renderGraphiQLPage({ ...options, styleNonce }));
  });
  app.get(options.endpoint ?? '/graphql', (request, response, next) => {
    if (!prefersHtml(request)) return next();
    const styleNonce = newNonce();
    response.set(pageHeaders(styleNonce));
    styleNonces.run(styleNonce, next);
  });
}

function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** Whether a GET is a browser asking for a page, as Apollo decides when it serves the landing page. */
function prefersHtml(request: Request): boolean {
  return request.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/** Apollo Server plugin that answers a browser's GET /graphql with our GraphiQL page instead of Apollo's CDN-loaded landing page. */
export function graphiqlLandingPagePlugin<TContext extends BaseContext>(options: GraphiQLOptions = {}): ApolloServerPlugin<TContext> {
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html: async () => renderGraphiQLPage({ ...options, styleNonce: styleNonces.getStore() }) };
        },
      };
    },
  };
}

/**
 * The page's own script, served as a file so the Content-Security-Policy can forbid inline scripts.
 * It keeps the API key in localStorage and sends it as `Authorization: Bearer <key>`; subscriptions go over a
 * WebSocket to the same endpoint (graphql-ws's UMD client), with the key in `connection_init`.
 */
const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var STORAGE_KEY = 'convoql:apiKey';
  var settings = JSON.parse(document.getElementById('convoql-settings').textContent);
  // GraphiQL's dialogs inject a scroll-lock <style>; its library takes the nonce from this global.
  if (settings.styleNonce) window.__webpack_nonce__ = settings.styleNonce;
  var input = document.getElementById('convoql-api-key');
  var toggle = document.getElementById('convoql-api-key-toggle');
  var demo = document.getElementById('convoql-api-key-demo');
  var hint = document.getElementById('convoql-api-key-hint');

  function readStoredKey() {
    try { return window.localStorage.getItem(STORAGE_KEY); } catch (error) { return null; }
  }
  function storeKey(key) {
    try { window.localStorage.setItem(STORAGE_KEY, key); } catch (error) { hint.textContent = 'This browser does not allow local storage; the key is kept for this page only.'; }
  }

  var stored = readStoredKey();
  input.value = stored !== null ? stored : settings.demoApiKey || '';
  if (stored === null && settings.demoApiKey) hint.textContent = 'Demo key of the embedded database pre-filled; kept in this browser only.';
  input.addEventListener('input', function () { storeKey(input.value.trim()); });
  document.getElementById('convoql-bar').addEventListener('submit', function (event) { event.preventDefault(); });
  toggle.addEventListener('click', function () {
    var hidden = input.type === 'password';
    input.type = hidden ? 'text' : 'password';
    toggle.textContent = hidden ? 'Hide' : 'Show';
  });
  if (demo) demo.addEventListener('click', function () { input.value = settings.demoApiKey; storeKey(settings.demoApiKey); });

  // One WebSocket per API key, opened at the first subscription and kept for the next ones.
  var wsClient = null;
  var wsClientKey = null;
  function webSocketClient(key) {
    if (wsClient && wsClientKey === key) return wsClient;
    if (wsClient) wsClient.dispose();
    var url = new URL(settings.endpoint, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    wsClientKey = key;
    wsClient = graphqlWs.createClient({ url: url.href, connectionParams: key ? { authorization: 'Bearer ' + key } : {} });
    return wsClient;
  }
  function isSubscription(params, options) {
    var document = options && options.documentAST;
    if (!document) return /^\s*subscription\b/.test(params.query || '');
    return document.definitions.some(function (definition) {
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription' &&
        (!params.operationName || (definition.name && definition.name.value === params.operationName));
    });
  }

  async function fetcher(params, options) {
    if (isSubscription(params, options)) {
      return webSocketClient(input.value.trim()).iterate({ query: params.query, variables: params.variables, operationName: params.operationName });
    }
    var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    var key = input.value.trim();
    if (key) headers.authorization = 'Bearer ' + key;
    // Headers typed into GraphiQL's header editor win; lower-casing keeps one value per header.
    var extra = (options && options.headers) || {};
    Object.keys(extra).forEach(function (name) { headers[name.toLowerCase()] = String(extra[name]); });
    var response = await fetch(settings.endpoint, { method: 'POST', headers: headers, body: JSON.stringify(params), credentials: 'same-origin' });
    var text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      return { errors: [{ message: 'Expected a JSON response from ' + settings.endpoint + ', received HTTP ' + response.status + ': ' + text.slice(0, 200) }] };
    }
  }

  var defaultQuery = [
    '# convoql: chat sessions and agent threads over GraphQL.',
    '# Paste an API key above; it is sent as "Authorization: Bearer <key>".',
    '# Run with Ctrl-Enter. Every response reports its cost in extensions.cost.',
    '',
    'query RecentSessions {',
    '  sessions(first: 10) {',
    '    totalCount',
    '    nodes {',
    '      sessionId',
    '      channel',
    '      status',
    '      startedAt',
    '      messageCount',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');

  var container = document.getElementById('graphiql');
  container.textContent = '';
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery, shouldPersistHeaders: false }),
  );
})();
`;

/** The page's own layout: our key bar above GraphiQL, which fills the rest of the window. */
const CLIENT_STYLE = `html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.convoql-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; padding: 6px 12px; font-size: 14px;
  border-bottom: 1px solid rgba(128, 128, 128, 0.35); background: #f6f7f9; color: #1f2430; }
.convoql-name { margin-right: 8px; }
.convoql-bar input { flex: 1 1 280px; max-width: 520px; padding: 4px 8px; font: 13px ui-monospace, SFMono-Regular, Menlo, monospace;
  border: 1px solid rgba(128, 128, 128, 0.6); border-radius: 4px; background: #fff; color: inherit; }
.convoql-bar button { padding: 4px 10px; font: inherit; border: 1px solid rgba(128, 128, 128, 0.6); border-radius: 4px; background: transparent; color: inherit; cursor: pointer; }
.convoql-hint { opacity: 0.7; font-size: 12px; }
.convoql-graphiql { flex: 1 1 auto; min-height: 0; }
@media (prefers-color-scheme: dark) {
  .convoql-bar { background: #1b1f27; color: #e6e8ee; }
  .convoql-bar input { background: #10131a; }
}
`;
