import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { Client } from 'pg';
import path from 'node:path';
import { createApiKey, ensureTenant } from '../../src/api-keys/api-key.repository';
import { createDatabase } from '../../src/db/client';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded';
import { applyMigrations } from '../../src/db/migrations';
import { start } from '../../src/main';
import { createTestDatabase } from '../helpers/database';
import { createSession } from '../helpers/factories';
import { startTestServer } from '../helpers/server';

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function post(url: string, key: string, query: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('readiness and metrics', () => {
  it('reports not ready while migrations are pending, and ready once they are applied', async () => {
    // A database an older version migrated: its newest migration is not applied yet (a deploy's migration step follows).
    const database = await createTestDatabase();
    const newest = `(SELECT max(migration_name) FROM _prisma_migrations)`;
    await withClient(database.url, (client) =>
      client.query(`CREATE TABLE newest_migration AS SELECT * FROM _prisma_migrations WHERE migration_name = ${newest};
                    DELETE FROM _prisma_migrations WHERE migration_name IN (SELECT migration_name FROM newest_migration)`),
    );
    const app = await start({ LOG_LEVEL: 'silent', DATABASE_URL: database.url, PORT: '0', DB_POOL_MAX: '1' });
    const readyz = app.url.replace(/\/graphql$/, '/readyz');
    try {
      const pending = await fetch(readyz);
      expect(pending.status).toBe(503);
      expect(await pending.json()).toMatchObject({ status: 'unavailable', reason: 'migrations pending' });
    } finally {
      await app.stop();
    }
    await withClient(database.url, (client) =>
      client.query(`INSERT INTO _prisma_migrations SELECT * FROM newest_migration; DROP TABLE newest_migration`),
    );
    const migrated = await start({ LOG_LEVEL: 'silent', DATABASE_URL: database.url, PORT: '0', DB_POOL_MAX: '1' });
    try {
      const ready = await fetch(migrated.url.replace(/\/graphql$/, '/readyz'));
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready' });
    } finally {
      await migrated.stop();
      await database.drop();
    }
  });

  it('exposes request counts and latency by operation and outcome, DataLoader batch sizes and pool use', async () => {
    const server = await startTestServer();
    try {
      await createSession(server.db);
      await server.graphql('query Dashboard { sessions(first: 5) { nodes { lastMessage { id } } } }');
      await server.graphql('query Broken { sessions(first: 500) { totalCount } }');
      const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
      expect(text).toContain('convoql_graphql_requests_total{operation="Dashboard",outcome="success"} 1');
      expect(text).toContain('convoql_graphql_requests_total{operation="Broken",outcome="BAD_USER_INPUT"} 1');
      expect(text).toMatch(/convoql_graphql_request_duration_seconds_count\{operation="Dashboard",outcome="success"\} 1/);
      expect(text).toMatch(/convoql_dataloader_batch_size_count\{loader="lastMessageBySession"\} 1/);
      expect(text).toMatch(/convoql_db_pool_connections\{state="total"\} \d+/);
      expect(text).not.toContain(server.apiKey);
    } finally {
      await server.close();
    }
  });
});

describe('shutdown', () => {
  it('finishes a request in flight, then refuses new connections', async () => {
    const server = await startTestServer({ DB_POOL_MAX: '1' });
    await createSession(server.db);
    await server.graphql('{ sessions { totalCount } }');
    // Hold the only pool connection so the next request waits in flight.
    const held = await server.db.pool.connect();
    const inFlight = server.graphql<{ sessions: { totalCount: number } }>('{ sessions { totalCount } }');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closing = server.close();
    setTimeout(() => held.release(), 300);
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ sessions: { totalCount: 1 } });
    await closing;
    await expect(fetch(server.url.replace(/\/graphql$/, '/healthz'))).rejects.toThrow();
  });
});

describe('database outage', () => {
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string;

  afterAll(async () => {
    await embedded?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 }).catch(() => undefined);
  });

  it('keeps running with a coded error, reports not ready, and recovers when the database returns', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'convoql-outage-'));
    const port = await freePort();
    embedded = await startEmbeddedPostgres({ dataDir, port });
    await applyMigrations(embedded.connectionString);
    const setup = createDatabase(embedded.connectionString, { poolMax: 1 });
    await ensureTenant(setup, 'acme', 'Acme');
    const { key } = await createApiKey(setup, { tenantId: 'acme', name: 'outage', scopes: ['read'] });
    await setup.close();

    const app = await start({ LOG_LEVEL: 'silent', DATABASE_URL: embedded.connectionString, PORT: '0', DB_POOL_MAX: '1' });
    const base = app.url.replace(/\/graphql$/, '');
    try {
      expect((await post(app.url, key, '{ sessions { totalCount } }')).body).toEqual({
        data: { sessions: { totalCount: 0 } },
        extensions: expect.anything(),
      });

      await embedded.stop();
      const down = await post(app.url, key, '{ sessions { totalCount } }');
      expect(down.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|SELECT|127\.0\.0\.1/);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await fetch(`${base}/readyz`)).status).toBe(503);

      embedded = await startEmbeddedPostgres({ dataDir, port });
      let recovered: Awaited<ReturnType<typeof post>> | undefined;
      for (let attempt = 0; attempt < 20 && !recovered?.body.data; attempt++) {
        recovered = await post(app.url, key, '{ sessions { totalCount } }');
        if (!recovered.body.data) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(recovered!.body.data).toEqual({ sessions: { totalCount: 0 } });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      await app.stop();
    }
    // Two fresh PGlite clusters on disk: slow on a loaded 2-core machine.
  }, 180_000);
});

describe('HTTP surface', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHQL_INTROSPECTION: 'false' });
  });
  afterAll(() => server?.close());

  const send = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}`, ...headers },
      body: JSON.stringify(body),
    });

  it('supports automatic persisted queries', async () => {
    const query = '{ sessions { totalCount } }';
    const sha256Hash = (await import('node:crypto')).createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const unknown = (await (await send({ extensions })).json()) as { errors: { extensions: { code: string } }[] };
    expect(unknown.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(await (await send({ query, extensions })).json()).toMatchObject({ data: { sessions: { totalCount: 0 } } });
    expect(await (await send({ extensions })).json()).toMatchObject({ data: { sessions: { totalCount: 0 } } });
  });

  it('refuses a body over the limit with a coded JSON error', async () => {
    const response = await send({ query: `{ sessions { totalCount } } # ${'x'.repeat(150_000)}` });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors: [{ message: 'The request body is larger than the server accepts.', extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
  });

  it('refuses a streamed body over the limit as soon as it passes it', async () => {
    const chunk = `# ${'x'.repeat(16 * 1024)}\n`;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(chunk));
      },
    });
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('answers a body that is not JSON with a coded JSON error', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` },
      body: '{ "query": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('leaves other content types to Apollo, which refuses them without running anything', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${server.apiKey}` },
      body: JSON.stringify({ query: '{ sessions { totalCount } }' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/i);
  });

  it('answers GraphQL over GET with the preflight header, and on a query string after POST /graphql', async () => {
    const query = encodeURIComponent('{ sessions { totalCount } }');
    const viaGet = await fetch(`${server.url}?query=${query}`, {
      headers: { authorization: `Bearer ${server.apiKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(await viaGet.json()).toMatchObject({ data: { sessions: { totalCount: 0 } } });
    const viaPost = await fetch(`${server.url}?ignored=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` },
      body: JSON.stringify({ query: '{ sessions { totalCount } }' }),
    });
    expect(await viaPost.json()).toMatchObject({ data: { sessions: { totalCount: 0 } } });
  });

  it('can switch introspection off', async () => {
    const body = (await (await send({ query: '{ __schema { types { name } } }' })).json()) as {
      errors: { extensions: { code: string } }[];
    };
    expect(body.errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('keeps CSRF prevention on for simple GET requests', async () => {
    const response = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/i);
  });
});
