import type { Conversation } from '../../src/generated/prisma/client';
import { toGlobalId } from '../../src/graphql/global-id';
import { at, createConversations, createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const CONVERSATIONS = /* GraphQL */ `
  query Conversations($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter, $orderBy: ConversationOrder) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      nodes {
        id
        threadId
        status
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      totalCount
    }
  }
`;

interface ConversationsData {
  conversations: {
    nodes: { id: string; threadId: string; status: string }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    totalCount: number;
  };
}

let server: TestServer;
let acme: Conversation[];
let foreign: Conversation;

beforeAll(async () => {
  server = await startTestServer();
  acme = await createConversations(server.db, 25, (index) => ({
    threadId: `acme-thread-${String(index).padStart(2, '0')}`,
    status: index % 4 === 0 ? 'INTERRUPTED' : index % 5 === 0 ? 'ERROR' : 'IDLE',
    createdAt: at(index),
    lastActivityAt: at(100 - index),
  }));
  [foreign] = await createConversations(server.db, 1, () => ({ tenantId: 'globex', threadId: 'globex-thread' }));
});
afterAll(() => server?.close());

async function conversations(variables: Record<string, unknown>) {
  const response = await server.graphql<ConversationsData>(CONVERSATIONS, variables);
  expect(response.errors).toBeUndefined();
  return response.data!.conversations;
}

it('lists the tenant conversations, most recently active first, with a tenant-scoped totalCount', async () => {
  const page = await conversations({ first: 3 });
  expect(page.nodes.map((node) => node.threadId)).toEqual(['acme-thread-00', 'acme-thread-01', 'acme-thread-02']);
  expect(page.totalCount).toBe(25);
});

it('orders by creation and filters by status and time ranges', async () => {
  const created = await conversations({ first: 2, orderBy: { field: 'CREATED_AT', direction: 'DESC' } });
  expect(created.nodes.map((node) => node.threadId)).toEqual(['acme-thread-24', 'acme-thread-23']);
  const interrupted = await conversations({ first: 100, filter: { status: ['INTERRUPTED'] } });
  expect(interrupted.totalCount).toBe(7);
  expect(interrupted.nodes.every((node) => node.status === 'INTERRUPTED')).toBe(true);
  const range = await conversations({ first: 100, filter: { createdAfter: at(5).toISOString(), createdBefore: at(8).toISOString() } });
  expect(range.nodes.map((node) => node.threadId).sort()).toEqual(['acme-thread-05', 'acme-thread-06', 'acme-thread-07']);
  const active = await conversations({ first: 100, filter: { lastActivityAfter: at(98).toISOString() } });
  expect(active.totalCount).toBe(3);
});

it('walks forward and backward over the same rows', async () => {
  const forward: string[] = [];
  let after: string | null = null;
  do {
    const page: ConversationsData['conversations'] = await conversations({ first: 6, after });
    forward.push(...page.nodes.map((node) => node.threadId));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  const backward: string[] = [];
  let before: string | null = null;
  do {
    const page: ConversationsData['conversations'] = await conversations({ last: 6, before });
    backward.unshift(...page.nodes.map((node) => node.threadId));
    before = page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor : null;
  } while (before);
  expect(forward).toHaveLength(25);
  expect(backward).toEqual(forward);
});

it('shows rollups: tokens, exact cost, pending interrupt and last error', async () => {
  const [row] = await createConversations(server.db, 1, () => ({
    threadId: 'rollups',
    status: 'INTERRUPTED',
    stepCount: 12,
    inputTokens: 1200n,
    outputTokens: 345n,
    reasoningTokens: 100n,
    costUsd: '0.00123457',
    title: 'Book a flight to Oslo',
    pendingInterrupt: {
      checkpointId: 'cp-1',
      interrupts: [{ interruptId: 'int-1', value: { question: 'Approve?' }, node: 'human_review' }],
    },
  }));
  const response = await server.graphql(
    `query($id: ID!) { conversation(id: $id) { threadId title status stepCount costUsd tokenUsage { input output total reasoning }
       pendingInterrupts { interruptId value node checkpointId } lastError { name } } }`,
    { id: toGlobalId('Conversation', row!.id) },
  );
  expect(response.data).toEqual({
    conversation: {
      threadId: 'rollups',
      title: 'Book a flight to Oslo',
      status: 'INTERRUPTED',
      stepCount: 12,
      costUsd: '0.00123457',
      tokenUsage: { input: 1200, output: 345, total: 1545, reasoning: 100 },
      pendingInterrupts: [{ interruptId: 'int-1', value: { question: 'Approve?' }, node: 'human_review', checkpointId: 'cp-1' }],
      lastError: null,
    },
  });
  // The list reads its rows as JSON (cost as text, tokens as numbers): the same figures, to the last digit.
  const listed = await server.graphql<{ conversations: { nodes: unknown[] } }>(
    `{ conversations(first: 100) { nodes { threadId title status stepCount costUsd tokenUsage { input output total reasoning }
       pendingInterrupts { interruptId value node checkpointId } lastError { name } } } }`,
  );
  expect(listed.data!.conversations.nodes).toContainEqual(response.data!.conversation);
});

it('finds a conversation by thread id within the tenant only, and hides other tenants', async () => {
  const byThread = 'query($threadId: String!) { conversationByThreadId(threadId: $threadId) { threadId } }';
  expect((await server.graphql(byThread, { threadId: 'acme-thread-03' })).data).toEqual({
    conversationByThreadId: { threadId: 'acme-thread-03' },
  });
  expect((await server.graphql(byThread, { threadId: 'globex-thread' })).data).toEqual({ conversationByThreadId: null });
  const byId = 'query($id: ID!) { conversation(id: $id) { threadId } node(id: $id) { id } }';
  const foreignResponse = await server.graphql(byId, { id: toGlobalId('Conversation', foreign.id) });
  const missingResponse = await server.graphql(byId, { id: toGlobalId('Conversation', '00000000-0000-4000-8000-000000000000') });
  expect(foreignResponse.data).toEqual({ conversation: null, node: null });
  expect(missingResponse.data).toEqual(foreignResponse.data);
  const list = await conversations({ first: 100 });
  expect(list.nodes.map((node) => node.threadId)).not.toContain('globex-thread');
});

it.each([
  [{ first: 500 }],
  [{ after: 'zzz' }],
  [{ filter: { createdAfter: at(9).toISOString(), createdBefore: at(1).toISOString() } }],
  [{ filter: { status: ['RUNNING'] } }],
])('rejects %j with BAD_USER_INPUT', async (variables) => {
  const response = await server.graphql(CONVERSATIONS, variables);
  expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
});

it('rejects a session cursor and a session id', async () => {
  await createSession(server.db);
  const sessions = await server.graphql<{ sessions: { pageInfo: { endCursor: string } } }>(
    '{ sessions(first: 1) { pageInfo { endCursor } } }',
  );
  expect(sessions.errors).toBeUndefined();
  const withSessionCursor = await server.graphql(CONVERSATIONS, { after: sessions.data!.sessions.pageInfo.endCursor });
  expect(withSessionCursor.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  const query = 'query($id: ID!) { conversation(id: $id) { id } }';
  const wrongType = await server.graphql(query, { id: toGlobalId('Session', acme[0]!.id) });
  expect(wrongType.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
});

it('lists a page of conversations with its total in one statement, whatever the page size', async () => {
  await conversations({ first: 1 });
  for (const first of [1, 25]) {
    const { statements } = await server.db.statements.record(() => server.graphql(CONVERSATIONS, { first }));
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  }
});
