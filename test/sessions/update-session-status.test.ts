import { createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { UpdateSessionStatusDocument, type SessionStatus } from '../generated/operations';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

async function update(id: string, status: string, options = {}) {
  return server.graphql(UpdateSessionStatusDocument, { input: { id, status: status as SessionStatus } }, options);
}

it('closes an ACTIVE session and sets endedAt', async () => {
  const session = await createSession(server.db);
  const before = Date.now();
  const response = await update(sessionGid(session), 'CLOSED');
  expect(response.errors).toBeUndefined();
  const payload = response.data!.updateSessionStatus;
  expect(payload.userErrors).toEqual([]);
  expect(payload.session!.status).toBe('CLOSED');
  expect(new Date(payload.session!.endedAt!).getTime()).toBeGreaterThanOrEqual(before - 1000);
  const row = await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } });
  expect(row.status).toBe('CLOSED');
  expect(row.endedAt?.toISOString()).toBe(payload.session!.endedAt);
});

it('expires an ACTIVE session', async () => {
  const session = await createSession(server.db);
  expect((await update(sessionGid(session), 'EXPIRED')).data!.updateSessionStatus.session!.status).toBe('EXPIRED');
});

it('treats setting the current status as a successful no-op', async () => {
  const session = await createSession(server.db, { status: 'CLOSED', endedAt: new Date('2026-01-01T00:00:00Z') });
  const response = await update(sessionGid(session), 'CLOSED');
  expect(response.data!.updateSessionStatus).toEqual({
    session: { id: sessionGid(session), status: 'CLOSED', endedAt: '2026-01-01T00:00:00.000Z' },
    userErrors: [],
  });
});

it.each([
  ['CLOSED', 'ACTIVE'],
  ['CLOSED', 'EXPIRED'],
  ['EXPIRED', 'CLOSED'],
  ['EXPIRED', 'ACTIVE'],
] as const)('refuses %s -> %s as a user error and writes nothing', async (from, to) => {
  const endedAt = new Date('2026-01-01T00:00:00Z');
  const session = await createSession(server.db, { status: from, endedAt });
  const response = await update(sessionGid(session), to);
  expect(response.errors).toBeUndefined();
  expect(response.data!.updateSessionStatus.userErrors).toEqual([
    expect.objectContaining({ code: 'ILLEGAL_STATUS_TRANSITION', field: ['input', 'status'] }),
  ]);
  expect(response.data!.updateSessionStatus.session!.status).toBe(from);
  expect(await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).toMatchObject({ status: from, endedAt });
});

it('answers NOT_FOUND for another tenant session, exactly as for a missing one, and changes nothing', async () => {
  const foreign = await createSession(server.db, { tenantId: 'globex' });
  const response = await update(sessionGid(foreign), 'CLOSED');
  const missing = await update(sessionGid({ id: '00000000-0000-4000-8000-000000000001' }), 'CLOSED');
  expect(response.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  expect(missing.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  expect(response.data).toEqual(missing.data);
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: foreign.id } })).status).toBe('ACTIVE');
});

it('needs the write scope', async () => {
  const session = await createSession(server.db);
  const readOnly = await server.createKey('acme', ['read']);
  const response = await update(sessionGid(session), 'CLOSED', { apiKey: readOnly });
  expect(response.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).status).toBe('ACTIVE');
});

it.each([[{ id: 'nope', status: 'CLOSED' }], [{ id: 'U2Vzc2lvbjox', status: 'CLOSED' }]])(
  'rejects malformed input %j with BAD_USER_INPUT',
  async (input) => {
    const response = await server.graphql(UpdateSessionStatusDocument, { input: input as { id: string; status: SessionStatus } });
    expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  },
);

it('rejects an unknown status value with BAD_USER_INPUT', async () => {
  const session = await createSession(server.db);
  const response = await update(sessionGid(session), 'closed');
  expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).status).toBe('ACTIVE');
});

it('lets exactly one of two concurrent changes win', async () => {
  const session = await createSession(server.db);
  const [closed, expired] = await Promise.all([update(sessionGid(session), 'CLOSED'), update(sessionGid(session), 'EXPIRED')]);
  const outcomes = [closed, expired].map((response) => response.data!.updateSessionStatus.userErrors.length);
  expect(outcomes.sort()).toEqual([0, 1]);
});
