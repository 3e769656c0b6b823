import { createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { revokeApiKey } from '../../src/api-keys/api-key.repository';

let server: TestServer;
const QUERY = '{ sessions { totalCount } }';

beforeAll(async () => {
  server = await startTestServer();
  await createSession(server.db, { tenantId: 'acme' });
  await createSession(server.db, { tenantId: 'globex' });
  await createSession(server.db, { tenantId: 'globex' });
});
afterAll(() => server?.close());

async function code(options: Parameters<TestServer['graphql']>[2], query = QUERY) {
  return (await server.graphql(query, {}, options)).errors?.[0]?.extensions?.code;
}

it('accepts the key as a bearer token or in x-api-key', async () => {
  expect((await server.graphql(QUERY)).data).toEqual({ sessions: { totalCount: 1 } });
  const viaHeader = await server.graphql(QUERY, {}, { apiKey: null, headers: { 'x-api-key': server.apiKey } });
  expect(viaHeader.data).toEqual({ sessions: { totalCount: 1 } });
});

it('answers UNAUTHENTICATED without a key, for an unknown key and for a malformed header', async () => {
  expect(await code({ apiKey: null })).toBe('UNAUTHENTICATED');
  const unknown = await server.graphql(QUERY, {}, { apiKey: 'cq_unknown' });
  // 200 as application/json (GraphQL over HTTP); test/server/graphql-over-http.test.ts checks the 401.
  expect(unknown.status).toBe(200);
  expect(unknown.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
  expect(await code({ apiKey: null, headers: { authorization: 'Basic abc' } })).toBe('UNAUTHENTICATED');
});

it('answers UNAUTHENTICATED for a revoked key', async () => {
  const key = await server.createKey('acme');
  expect(await code({ apiKey: key })).toBeUndefined();
  const row = await server.db.prisma.apiKey.findFirstOrThrow({ where: { prefix: key.slice(0, 11) } });
  await revokeApiKey(server.db, row.id);
  expect(await code({ apiKey: key })).toBe('UNAUTHENTICATED');
});

it('keeps a tenant key to its own tenant', async () => {
  expect(await code({ tenant: 'globex' })).toBe('FORBIDDEN');
  expect((await server.graphql(QUERY, {}, { tenant: 'acme' })).data).toEqual({ sessions: { totalCount: 1 } });
});

it('lets an admin key act for the tenant it names, and only when it names one', async () => {
  const admin = await server.createKey(null, ['admin']);
  expect((await server.graphql(QUERY, {}, { apiKey: admin, tenant: 'globex' })).data).toEqual({ sessions: { totalCount: 2 } });
  expect((await server.graphql(QUERY, {}, { apiKey: admin, tenant: 'acme' })).data).toEqual({ sessions: { totalCount: 1 } });
  expect(await code({ apiKey: admin })).toBe('FORBIDDEN');
});

it('checks scopes: read for queries, write for mutations', async () => {
  const writeOnly = await server.createKey('acme', ['write']);
  expect(await code({ apiKey: writeOnly })).toBe('FORBIDDEN');
  const session = await createSession(server.db);
  const mutation = `mutation { updateSessionStatus(input: { id: "${sessionGid(session)}", status: CLOSED }) { userErrors { code } } }`;
  expect(await code({ apiKey: writeOnly }, mutation)).toBeUndefined();
});

it('records when a key was last used', async () => {
  const key = await server.createKey('acme');
  await server.graphql(QUERY, {}, { apiKey: key });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const row = await server.db.prisma.apiKey.findFirstOrThrow({ where: { prefix: key.slice(0, 11) } });
  expect(row.lastUsedAt).not.toBeNull();
});

it('never stores the key itself', async () => {
  const rows = await server.db.prisma.apiKey.findMany();
  for (const row of rows) expect(JSON.stringify(row)).not.toContain(server.apiKey);
});
