// The lean raw baseline: a minimal node:http + pg server that answers the benchmark's operations with the same
// JSON `data` as convoql, issuing the fewest SQL statements it can (each a named prepared statement, plain columns,
// rows shaped with JSON.stringify) and no GraphQL at all.
// It routes by operationName and reads the variables; it is the physical limit convoql is measured
// against, not an API (it knows only these operations and none of convoql's checks beyond the API key).
//
// Environment: BASELINE_DATABASE_URL, DB_POOL_MAX (default 10), HOST, PORT.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { appendMessages } from './append';
import { readBody, send } from './http';
import { conversationsTable } from './conversations';
import { prepared } from './prepared';
import { conversationReplay } from './replay';
import { nodeSession, sessionDetail, sessionEntities, sessionPanel, sessionRef, sessionsTable } from './sessions';
import { usageTiles } from './usage';

type Handler = (pool: Pool, tenantId: string, variables: never) => Promise<unknown>;

/** The operations the baseline answers, by operationName. */
const HANDLERS: Record<string, Handler> = {
  SessionsTable: sessionsTable,
  SessionDetail: sessionDetail,
  SessionPanel: sessionPanel,
  SessionRef: sessionRef,
  NodeSession: nodeSession,
  SessionEntities: sessionEntities,
  Typename: async () => ({ __typename: 'Query' }),
  ConversationsTable: conversationsTable,
  ConversationReplay: conversationReplay,
  UsageTiles: usageTiles,
  AppendMessages: appendMessages,
};

/** API key lookups are cached like convoql's (30 s), so a request usually costs no SQL for authentication. */
const API_KEY_CACHE_MS = 30_000;

const pool = new Pool({ connectionString: process.env.BASELINE_DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 10) });
pool.on('error', () => undefined);
const apiKeys = new Map<string, { tenantId: string | null; expiresAt: number }>();

async function tenantOf(request: IncomingMessage): Promise<string | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return null;
  const hash = createHash('sha256').update(match[1]!, 'utf8').digest('hex');
  const cached = apiKeys.get(hash);
  if (cached && cached.expiresAt > Date.now()) return cached.tenantId;
  const result = await prepared<{ tenant_id: string | null }>(
    pool,
    'SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
    [hash],
  );
  const tenantId = result.rows[0]?.tenant_id ?? null;
  apiKeys.set(hash, { tenantId, expiresAt: Date.now() + API_KEY_CACHE_MS });
  return tenantId;
}

function sendError(response: ServerResponse, status: number, message: string, code: string): void {
  send(response, status, { errors: [{ message, extensions: { code } }] });
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method === 'GET' && request.url === '/healthz') return send(response, 200, { status: 'ok' });
  if (request.method !== 'POST' || request.url !== '/graphql') return sendError(response, 404, 'Not found', 'NOT_FOUND');
  const { operationName, variables } = JSON.parse(await readBody(request)) as {
    operationName?: string;
    variables?: Record<string, unknown>;
  };
  const handler = operationName ? HANDLERS[operationName] : undefined;
  if (!handler) return sendError(response, 400, `The baseline does not answer ${operationName ?? 'anonymous operations'}`, 'BAD_REQUEST');
  const tenantId = await tenantOf(request);
  if (tenantId === null) return sendError(response, 401, 'The API key is unknown or revoked.', 'UNAUTHENTICATED');
  send(response, 200, { data: await handler(pool, tenantId, (variables ?? {}) as never) });
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    process.stderr.write(`baseline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (!response.headersSent) sendError(response, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
    else response.destroy();
  });
});
server.listen(Number(process.env.PORT ?? 4100), process.env.HOST ?? '127.0.0.1');

const shutdown = () => {
  server.close(() => void pool.end());
  server.closeAllConnections();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
