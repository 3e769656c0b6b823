import { createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const UPSERT = /* GraphQL */ `
  mutation Upsert($input: UpsertSessionInput!) {
    upsertSession(input: $input) {
      created
      session {
        id
        sessionId
        channel
        status
        startedAt
        lastActivityAt
        metadata
        threadId
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`;

interface UpsertData {
  upsertSession: {
    created: boolean;
    session: {
      id: string;
      sessionId: string;
      channel: string;
      status: string;
      startedAt: string;
      lastActivityAt: string;
      metadata: Record<string, unknown>;
      threadId: string | null;
    } | null;
    userErrors: { code: string; message: string; field: string[] }[];
  };
}
interface UpsertInput {
  sessionId: string;
  channel: string;
  startedAt?: string;
  metadata?: Record<string, unknown>;
  threadId?: string | null;
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ INGEST_MAX_METADATA_DEPTH: '3', INGEST_MAX_FUTURE_SECONDS: '60' });
});
afterAll(() => server?.close());

function upsert(input: UpsertInput, options = {}) {
  return server.graphql<UpsertData>(UPSERT, { input }, options);
}

const row = (externalId: string, tenantId = 'acme') =>
  server.db.prisma.session.findUnique({ where: { tenantId_externalId: { tenantId, externalId } } });

it('creates a session, then updates it by the same sessionId', async () => {
  const startedAt = '2026-11-05T10:00:00.000Z';
  const created = await upsert({ sessionId: 'bot-1', channel: 'web', startedAt, metadata: { plan: 'pro' } });
  expect(created.errors).toBeUndefined();
  expect(created.data!.upsertSession).toMatchObject({
    created: true,
    session: {
      sessionId: 'bot-1',
      channel: 'web',
      status: 'ACTIVE',
      startedAt,
      lastActivityAt: startedAt,
      metadata: { plan: 'pro' },
      threadId: null,
    },
    userErrors: [],
  });
  const updated = await upsert({ sessionId: 'bot-1', channel: 'app', metadata: { plan: 'team' } });
  expect(updated.data!.upsertSession).toMatchObject({
    created: false,
    session: { id: created.data!.upsertSession.session!.id, channel: 'app', startedAt, metadata: { plan: 'team' } },
  });
  expect(await row('bot-1')).toMatchObject({ channel: 'app', metadata: { plan: 'team' }, startedAt: new Date(startedAt) });
  // Without metadata, an update keeps the stored one.
  const again = await upsert({ sessionId: 'bot-1', channel: 'app' });
  expect(again.data!.upsertSession).toMatchObject({ created: false, session: { metadata: { plan: 'team' } } });
});

it('defaults startedAt to the time of the call', async () => {
  const before = Date.now();
  const response = await upsert({ sessionId: 'bot-now', channel: 'web' });
  const startedAt = Date.parse(response.data!.upsertSession.session!.startedAt);
  expect(startedAt).toBeGreaterThanOrEqual(before - 1000);
  expect(startedAt).toBeLessThanOrEqual(Date.now() + 1000);
});

it('links a thread with threadId, keeps it when omitted (even with new metadata) and unlinks it with null', async () => {
  const linked = await upsert({ sessionId: 'bot-thread', channel: 'web', threadId: 'thread-a', metadata: { plan: 'pro' } });
  expect(linked.data!.upsertSession.session).toMatchObject({ threadId: 'thread-a', metadata: { plan: 'pro', threadId: 'thread-a' } });
  const kept = await upsert({ sessionId: 'bot-thread', channel: 'web', metadata: { plan: 'team' } });
  expect(kept.data!.upsertSession.session).toMatchObject({ threadId: 'thread-a', metadata: { plan: 'team', threadId: 'thread-a' } });
  const moved = await upsert({ sessionId: 'bot-thread', channel: 'web', threadId: 'thread-b' });
  expect(moved.data!.upsertSession.session).toMatchObject({ threadId: 'thread-b', metadata: { plan: 'team', threadId: 'thread-b' } });
  const unlinked = await upsert({ sessionId: 'bot-thread', channel: 'web', threadId: null });
  expect(unlinked.data!.upsertSession.session).toMatchObject({ threadId: null, metadata: { plan: 'team' } });
  expect((await row('bot-thread'))!.threadId).toBeNull();
});

it('links a session written by SQL through its metadata key threadId', async () => {
  const session = await createSession(server.db, { metadata: { plan: 'pro' } });
  await server.db.prisma
    .$executeRaw`UPDATE sessions SET metadata = metadata || '{"threadId": "thread-sql"}' WHERE id = ${session.id}::uuid`;
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).threadId).toBe('thread-sql');
  await server.db.prisma.$executeRaw`UPDATE sessions SET metadata = '{"threadId": 42}' WHERE id = ${session.id}::uuid`;
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).threadId).toBeNull();
});

it('refuses bad input with user errors naming each field, and writes nothing', async () => {
  const response = await upsert({
    sessionId: ' ',
    channel: 'c'.repeat(201),
    startedAt: new Date(Date.now() + 3_600_000).toISOString(),
    metadata: { a: { b: { c: { d: 1 } } }, threadId: 'x' },
    threadId: '',
  });
  expect(response.errors).toBeUndefined();
  expect(response.data!.upsertSession).toMatchObject({ created: false, session: null });
  expect(response.data!.upsertSession.userErrors.map((error) => [error.code, error.field])).toEqual([
    ['BLANK', ['input', 'sessionId']],
    ['TOO_LONG', ['input', 'channel']],
    ['BLANK', ['input', 'threadId']],
    ['IN_FUTURE', ['input', 'startedAt']],
    ['TOO_DEEP', ['input', 'metadata']],
  ]);
  const badLink = await upsert({ sessionId: 'bot-bad-link', channel: 'web', metadata: { threadId: 7 } });
  expect(badLink.data!.upsertSession.userErrors).toEqual([
    expect.objectContaining({ code: 'BLANK', field: ['input', 'metadata', 'threadId'] }),
  ]);
  expect(await server.db.prisma.session.count({ where: { externalId: { in: [' ', 'bot-bad-link'] } } })).toBe(0);
});

it('needs the write scope', async () => {
  const readOnly = await server.createKey('acme', ['read']);
  const response = await upsert({ sessionId: 'bot-forbidden', channel: 'web' }, { apiKey: readOnly });
  expect(response.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  expect(await row('bot-forbidden')).toBeNull();
});

it("creates the tenant's own session when another tenant has the same sessionId, leaving that one untouched", async () => {
  const foreign = await createSession(server.db, {
    tenantId: 'globex',
    externalId: 'shared-id',
    channel: 'phone',
    metadata: { secret: 1 },
  });
  const response = await upsert({ sessionId: 'shared-id', channel: 'web' });
  expect(response.data!.upsertSession).toMatchObject({ created: true, session: { channel: 'web', metadata: {} } });
  expect(await row('shared-id', 'globex')).toEqual(foreign);
});

it('creates exactly one session when the same new sessionId is upserted concurrently', async () => {
  const responses = await Promise.all(Array.from({ length: 6 }, () => upsert({ sessionId: 'bot-race', channel: 'web' })));
  expect(responses.map((response) => response.data!.upsertSession.created).filter(Boolean)).toHaveLength(1);
  expect(new Set(responses.map((response) => response.data!.upsertSession.session!.id)).size).toBe(1);
});

it('answers in one statement', async () => {
  await upsert({ sessionId: 'bot-count', channel: 'web' });
  const { statements } = await server.db.statements.record(() => upsert({ sessionId: 'bot-count', channel: 'app' }));
  expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
});
