// The request log: one line per request with its errors counted by code, however many fields failed.
import type { PoolClient } from 'pg';
import type { DestinationStream } from 'pino';
import { createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  operationName?: string | null;
  outcome?: string;
  errorCounts?: Record<string, number>;
  unexpectedErrors?: { code: string; message: string; path?: (string | number)[]; type?: string; stack?: string }[];
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;

const lines: LogLine[] = [];
const destination: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) };
let server: TestServer;

beforeAll(async () => {
  // Keys are looked up once a minute here, so a request can authenticate while the pool is exhausted.
  server = await startTestServer({ LOG_LEVEL: 'info' }, { logDestination: destination, apiKeyCacheMs: 60_000 });
  await createSession(server.db, { externalId: 'logged' });
});
afterAll(() => server?.close());

/** Sends a request with its own request id and returns every log line that names it. */
async function linesOf(requestId: string, query: string, apiKey?: string): Promise<LogLine[]> {
  await server.graphql(query, {}, { headers: { 'x-request-id': requestId }, ...(apiKey ? { apiKey } : {}) });
  return lines.filter((line) => line.requestId === requestId);
}

/** `count` aliases of one nullable field: `f0: <field> f1: <field> …`, so each alias fails on its own. */
const aliases = (count: number, field: string) => Array.from({ length: count }, (_, index) => `f${index}: ${field}`).join(' ');

it('logs a successful request in one line', async () => {
  expect(await linesOf('ok', 'query Ok { sessions { totalCount } }')).toEqual([
    expect.objectContaining({ level: INFO, msg: 'graphql request', operationName: 'Ok', outcome: 'success' }),
  ]);
});

it('logs one line with the count by code for a request whose fields all fail with a coded error', async () => {
  const logged = await linesOf(
    'many-coded',
    `query Many { ${aliases(25, 'sessionByExternalId(sessionId: "logged") { messages(first: 500) { totalCount } }')} }`,
  );
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatchObject({ level: INFO, operationName: 'Many', outcome: 'BAD_USER_INPUT', errorCounts: { BAD_USER_INPUT: 25 } });
  expect(logged[0]!.unexpectedErrors).toBeUndefined();
});

it('logs one line with the count and the first 3 unexpected errors in full for a request whose fields all fail', async () => {
  await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations RENAME TO conversations_away');
  let logged: LogLine[];
  try {
    logged = await linesOf('many-unexpected', `query Broken { ${aliases(25, 'conversationByThreadId(threadId: "t-1") { id }')} }`);
  } finally {
    await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations_away RENAME TO conversations');
  }
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatchObject({ level: ERROR, outcome: 'INTERNAL_SERVER_ERROR', errorCounts: { INTERNAL_SERVER_ERROR: 25 } });
  expect(logged[0]!.unexpectedErrors).toHaveLength(3);
  // Three different fields; which fail first depends on the order their statements come back in (a pool on PostgreSQL).
  expect(new Set(logged[0]!.unexpectedErrors!.map((error) => String(error.path)))).toHaveProperty('size', 3);
  for (const error of logged[0]!.unexpectedErrors!) {
    expect(error).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      path: [expect.stringMatching(/^f\d+$/)],
      message: expect.stringMatching(/conversations/),
    });
    expect(error.stack).toEqual(expect.stringContaining('\n    at '));
  }
});

it('logs a request refused while authenticating in one line', async () => {
  const before = lines.length;
  await server.graphql('{ sessions { totalCount } }', {}, { apiKey: 'cq_unknown' });
  expect(lines.slice(before)).toEqual([
    expect.objectContaining({
      level: INFO,
      msg: 'graphql request refused',
      outcome: 'UNAUTHENTICATED',
      errorCounts: { UNAUTHENTICATED: 1 },
    }),
  ]);
});

it('logs and counts a pool timeout as SERVICE_UNAVAILABLE, the code the client receives', async () => {
  await server.graphql('{ __typename }'); // caches the key
  const pool = server.db.pool;
  const held: PoolClient[] = await Promise.all(Array.from({ length: pool.options.max ?? 1 }, () => pool.connect()));
  let response;
  let logged: LogLine[];
  try {
    // pg gives up after the pool's connection timeout: "timeout exceeded when trying to connect".
    response = await server.graphql('query Waiting { sessions { totalCount } }', {}, { headers: { 'x-request-id': 'pool-timeout' } });
    logged = lines.filter((line) => line.requestId === 'pool-timeout');
  } finally {
    for (const client of held) client.release();
  }
  expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
  expect(logged).toEqual([
    expect.objectContaining({
      level: WARN,
      outcome: 'SERVICE_UNAVAILABLE',
      errorCounts: { SERVICE_UNAVAILABLE: 1 },
      unexpectedErrors: [{ code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/timeout/i), path: ['sessions'] }],
    }),
  ]);
  const metrics = await (await fetch(server.metricsUrl)).text();
  expect(metrics).toContain('convoql_graphql_requests_total{operation="Waiting",outcome="SERVICE_UNAVAILABLE"} 1');
}, 30_000);
