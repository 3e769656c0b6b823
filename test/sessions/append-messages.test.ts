import { toGlobalId } from '../../src/graphql/global-id';
import { createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const APPEND = /* GraphQL */ `
  mutation Append($input: AppendMessagesInput!) {
    appendMessages(input: $input) {
      session {
        sessionId
        status
        lastActivityAt
        messageCount
      }
      messages {
        id
        clientMessageId
        role
        content
        createdAt
        metadata
      }
      appendedCount
      duplicateCount
      userErrors {
        code
        message
        field
      }
    }
  }
`;

interface AppendedMessage {
  id: string;
  clientMessageId: string;
  role: string;
  content: string;
  createdAt: string;
  metadata: Record<string, unknown>;
}
interface AppendData {
  appendMessages: {
    session: { sessionId: string; status: string; lastActivityAt: string; messageCount: number } | null;
    messages: AppendedMessage[];
    appendedCount: number;
    duplicateCount: number;
    userErrors: { code: string; message: string; field: string[] }[];
  };
}
interface MessageInput {
  clientMessageId: string;
  role: string;
  content: string;
  createdAt?: string;
  metadata?: Record<string, unknown>;
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    INGEST_MAX_CONTENT_BYTES: '1000',
    INGEST_MAX_METADATA_BYTES: '2000',
    INGEST_MAX_METADATA_DEPTH: '4',
    INGEST_MAX_FUTURE_SECONDS: '60',
  });
});
afterAll(() => server?.close());

function append(sessionId: string, messages: MessageInput[], options = {}) {
  return server.graphql<AppendData>(APPEND, { input: { sessionId, messages } }, options);
}

function batch(from: number, to: number, prefix = 'm'): MessageInput[] {
  return Array.from({ length: to - from }, (_, index) => ({
    clientMessageId: `${prefix}-${from + index}`,
    role: index % 2 === 0 ? 'USER' : 'ASSISTANT',
    content: `message ${from + index}`,
    createdAt: new Date(Date.UTC(2026, 10, 1, 12, 0, from + index)).toISOString(),
  }));
}

async function storedMessages(sessionKey: string) {
  return server.db.prisma.message.findMany({ where: { sessionId: sessionKey }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

it('appends messages in order, advances lastActivityAt and answers them with the session', async () => {
  const session = await createSession(server.db);
  const response = await append(session.externalId, [
    { clientMessageId: 'a', role: 'user', content: 'Where is my order?', metadata: { channelUserId: 'u1' } },
    { clientMessageId: 'b', role: 'Assistant', content: 'Let me check.', metadata: { model: 'gpt-4o-mini', usage: { inputTokens: 5 } } },
    { clientMessageId: 'c', role: 'TOOL', content: '{"status":"shipped"}' },
  ]);
  expect(response.errors).toBeUndefined();
  const payload = response.data!.appendMessages;
  expect(payload.userErrors).toEqual([]);
  expect(payload).toMatchObject({ appendedCount: 3, duplicateCount: 0 });
  expect(payload.messages.map((message) => [message.clientMessageId, message.role, message.content])).toEqual([
    ['a', 'USER', 'Where is my order?'],
    ['b', 'ASSISTANT', 'Let me check.'],
    ['c', 'TOOL', '{"status":"shipped"}'],
  ]);
  expect(payload.messages[1]!.metadata).toEqual({ model: 'gpt-4o-mini', usage: { inputTokens: 5 } });
  // Without createdAt, all three got the time of the call, and the messages list keeps the order given.
  expect(new Set(payload.messages.map((message) => message.createdAt)).size).toBe(1);
  expect(payload.session).toMatchObject({ sessionId: session.externalId, status: 'ACTIVE', messageCount: 3 });
  expect(payload.session!.lastActivityAt).toBe(payload.messages[0]!.createdAt);

  const rows = await storedMessages(session.id);
  expect(rows.map((row) => row.clientMessageId)).toEqual(['a', 'b', 'c']);
  const listed = await server.graphql<{ session: { messages: { nodes: { clientMessageId: string }[] } } }>(
    `query($id: ID!) { session(id: $id) { messages(first: 10) { nodes { clientMessageId } } } }`,
    { id: sessionGid(session) },
  );
  expect(listed.data!.session.messages.nodes.map((node) => node.clientMessageId)).toEqual(['a', 'b', 'c']);
  const stored = await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } });
  expect(stored.lastActivityAt.toISOString()).toBe(payload.session!.lastActivityAt);
});

it('writes nothing new on a retry and answers the same messages, counting the duplicates', async () => {
  const session = await createSession(server.db);
  const first = await append(session.externalId, batch(0, 5));
  const retry = await append(session.externalId, batch(0, 5));
  expect(retry.data!.appendMessages).toMatchObject({ appendedCount: 0, duplicateCount: 5, userErrors: [] });
  expect(retry.data!.appendMessages.messages).toEqual(first.data!.appendMessages.messages);
  expect(await storedMessages(session.id)).toHaveLength(5);

  // An overlapping batch writes only what is new, and answers every message in the order given.
  const overlap = await append(session.externalId, [...batch(5, 7), ...batch(3, 5)]);
  expect(overlap.data!.appendMessages).toMatchObject({ appendedCount: 2, duplicateCount: 2, userErrors: [] });
  expect(overlap.data!.appendMessages.messages.map((message) => message.clientMessageId)).toEqual(['m-5', 'm-6', 'm-3', 'm-4']);
  expect(overlap.data!.appendMessages.messages.slice(2)).toEqual(first.data!.appendMessages.messages.slice(3));
  expect(await storedMessages(session.id)).toHaveLength(7);
});

it('stays correct when overlapping batches are appended to one session at the same time', async () => {
  const session = await createSession(server.db);
  const batches = [batch(0, 40), batch(20, 60), batch(10, 50), batch(0, 60), batch(55, 80)];
  const responses = await Promise.all(batches.map((messages) => append(session.externalId, messages)));
  for (const response of responses) {
    expect(response.errors).toBeUndefined();
    expect(response.data!.appendMessages.userErrors).toEqual([]);
  }
  const rows = await storedMessages(session.id);
  expect(rows).toHaveLength(80);
  expect(new Set(rows.map((row) => row.clientMessageId)).size).toBe(80);
  // Every answer names the one stored row of each client id, and the writes add up to the rows.
  const idByClient = new Map(rows.map((row) => [row.clientMessageId!, row.id]));
  for (const response of responses) {
    for (const message of response.data!.appendMessages.messages) {
      expect(toGlobalId('Message', idByClient.get(message.clientMessageId)!)).toBe(message.id);
    }
  }
  expect(responses.reduce((sum, response) => sum + response.data!.appendMessages.appendedCount, 0)).toBe(80);
  const stored = await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } });
  expect(stored.lastActivityAt.toISOString()).toBe(new Date(Date.UTC(2026, 10, 1, 12, 0, 79)).toISOString());
});

it('keeps lastActivityAt when backfilling older messages', async () => {
  const lastActivityAt = new Date('2026-11-20T00:00:00.000Z');
  const session = await createSession(server.db, { lastActivityAt });
  const response = await append(session.externalId, batch(0, 3));
  expect(response.data!.appendMessages.session!.lastActivityAt).toBe(lastActivityAt.toISOString());
});

it('refuses bad messages item by item, naming each path, and writes nothing', async () => {
  const session = await createSession(server.db);
  const future = new Date(Date.now() + 10 * 60_000).toISOString();
  const response = await append(session.externalId, [
    { clientMessageId: 'ok', role: 'USER', content: 'fine' },
    { clientMessageId: 'r', role: 'robot', content: 'x' },
    { clientMessageId: 'big', role: 'USER', content: 'é'.repeat(501) },
    { clientMessageId: 'deep', role: 'USER', content: 'x', metadata: { a: { b: { c: { d: { e: 1 } } } } } },
    { clientMessageId: 'fat', role: 'USER', content: 'x', metadata: { blob: 'y'.repeat(2100) } },
    { clientMessageId: 'late', role: 'USER', content: 'x', createdAt: future },
    { clientMessageId: 'ok', role: 'USER', content: 'again' },
    { clientMessageId: '  ', role: 'USER', content: 'x' },
  ]);
  expect(response.errors).toBeUndefined();
  const payload = response.data!.appendMessages;
  expect(payload).toMatchObject({ session: null, messages: [], appendedCount: 0, duplicateCount: 0 });
  expect(payload.userErrors.map((error) => [error.code, error.field])).toEqual([
    ['UNKNOWN_ROLE', ['input', 'messages', '1', 'role']],
    ['TOO_LONG', ['input', 'messages', '2', 'content']],
    ['TOO_DEEP', ['input', 'messages', '3', 'metadata']],
    ['TOO_LONG', ['input', 'messages', '4', 'metadata']],
    ['IN_FUTURE', ['input', 'messages', '5', 'createdAt']],
    ['DUPLICATE_IN_CALL', ['input', 'messages', '6', 'clientMessageId']],
    ['BLANK', ['input', 'messages', '7', 'clientMessageId']],
  ]);
  expect(payload.userErrors[1]!.message).toBe('content may be at most 1000 bytes (UTF-8), received 1002.');
  expect(payload.userErrors[0]!.message).toContain('received "robot"');
  expect(await storedMessages(session.id)).toHaveLength(0);
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).lastActivityAt).toEqual(session.lastActivityAt);
});

it.each([
  ['no messages', 0],
  ['501 messages', 501],
])('refuses %s with BATCH_SIZE and writes nothing', async (_label, count) => {
  const session = await createSession(server.db);
  const response = await append(session.externalId, batch(0, count));
  expect(response.data!.appendMessages.userErrors).toEqual([
    { code: 'BATCH_SIZE', field: ['input', 'messages'], message: `messages must hold 1 to 500 messages, received ${count}.` },
  ]);
  expect(await storedMessages(session.id)).toHaveLength(0);
});

it('accepts a full batch of 500', async () => {
  const session = await createSession(server.db);
  const response = await append(session.externalId, batch(0, 500));
  expect(response.data!.appendMessages).toMatchObject({ appendedCount: 500, duplicateCount: 0, userErrors: [] });
  expect(await storedMessages(session.id)).toHaveLength(500);
});

it('answers NOT_FOUND for an unknown session and for another tenant one alike, writing nothing', async () => {
  const foreign = await createSession(server.db, { tenantId: 'globex' });
  const other = await append(foreign.externalId, batch(0, 2));
  const missing = await append('no-such-session', batch(0, 2));
  expect(other.errors).toBeUndefined();
  expect(other.data!.appendMessages).toMatchObject({
    session: null,
    messages: [],
    userErrors: [{ code: 'NOT_FOUND', field: ['input', 'sessionId'] }],
  });
  expect(missing.data!.appendMessages.userErrors[0]!.code).toBe('NOT_FOUND');
  expect(JSON.stringify(other.data).replace(foreign.externalId, 'X')).toBe(JSON.stringify(missing.data).replace('no-such-session', 'X'));
  expect(await storedMessages(foreign.id)).toHaveLength(0);
  expect(await server.db.prisma.message.count({ where: { clientMessageId: { in: ['m-0', 'm-1'] }, tenantId: 'globex' } })).toBe(0);
});

it.each(['CLOSED', 'EXPIRED'] as const)('refuses a %s session with SESSION_ENDED and writes nothing', async (status) => {
  const endedAt = new Date('2026-11-02T00:00:00.000Z');
  const session = await createSession(server.db, { status, endedAt });
  const response = await append(session.externalId, batch(0, 3));
  expect(response.data!.appendMessages).toMatchObject({
    session: { sessionId: session.externalId, status },
    messages: [],
    appendedCount: 0,
    userErrors: [{ code: 'SESSION_ENDED', field: ['input', 'sessionId'] }],
  });
  expect(await storedMessages(session.id)).toHaveLength(0);
  expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).lastActivityAt).toEqual(session.lastActivityAt);
});

it('needs the write scope', async () => {
  const session = await createSession(server.db);
  const readOnly = await server.createKey('acme', ['read']);
  const response = await append(session.externalId, batch(0, 2), { apiKey: readOnly });
  expect(response.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  expect(response.data).toBeNull();
  expect(await storedMessages(session.id)).toHaveLength(0);
});

it('rejects malformed input (a missing field, a bad timestamp) with BAD_USER_INPUT, never an internal error', async () => {
  const session = await createSession(server.db);
  const noContent = await server.graphql(APPEND, {
    input: { sessionId: session.externalId, messages: [{ clientMessageId: 'a', role: 'USER' }] },
  });
  const badTime = await append(session.externalId, [{ clientMessageId: 'a', role: 'USER', content: 'x', createdAt: 'yesterday' }]);
  // The server refuses NUL characters in any string variable before a resolver runs (PostgreSQL cannot store them).
  const nul = await append(session.externalId, [{ clientMessageId: 'a', role: 'USER', content: 'x', metadata: { note: 'a\u0000b' } }]);
  expect(nul.errors![0]!.message).toContain('$input.messages[0].metadata.note');
  for (const response of [noContent, badTime, nul]) expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(await storedMessages(session.id)).toHaveLength(0);
});

it('costs the same few statements whatever the batch size: find the session, append, and read back duplicates', async () => {
  const lean = /* GraphQL */ `
    mutation Append($input: AppendMessagesInput!) {
      appendMessages(input: $input) {
        session {
          lastActivityAt
        }
        messages {
          id
        }
        appendedCount
        duplicateCount
        userErrors {
          code
        }
      }
    }
  `;
  const counted = async (sessionId: string, messages: MessageInput[]) => {
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql<AppendData>(lean, { input: { sessionId, messages } }),
    );
    return { payload: result.data!.appendMessages, statements: statements.filter((sql) => !/api_keys/.test(sql)) };
  };
  for (const size of [1, 100, 500]) {
    const session = await createSession(server.db);
    const first = await counted(session.externalId, batch(0, size));
    expect(first.payload.appendedCount).toBe(size);
    // The session by its id, then one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING that also advances lastActivityAt.
    expect(first.statements).toHaveLength(2);
    expect(first.statements[1]).toMatch(/INSERT INTO messages[\s\S]*FROM unnest|unnest[\s\S]*INSERT INTO messages/);
    const retry = await counted(session.externalId, batch(0, size));
    expect(retry.payload.duplicateCount).toBe(size);
    // … and one read of the rows stored before under the retried client ids.
    expect(retry.statements).toHaveLength(3);
  }
});
