import { Prisma } from '../../src/generated/prisma/client';
import type { Conversation, Session } from '../../src/generated/prisma/client';
import { toGlobalId } from '../../src/graphql/global-id';
import { at, createConversations, createSessions } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
let threads: Conversation[];
let foreignThread: Conversation;
let sessions: Session[];

// Sessions 0–29 of acme: i % 3 == 0 names acme thread i % 5 (on channel web or phone), i % 3 == 1 names globex's thread
// (not acme's: no conversation), i % 3 == 2 names no thread.
beforeAll(async () => {
  server = await startTestServer();
  threads = await createConversations(server.db, 5, (index) => ({
    threadId: `acme-thread-${index}`,
    status: index === 0 ? 'INTERRUPTED' : 'IDLE',
    costUsd: new Prisma.Decimal(`0.${index}0000001`),
  }));
  [foreignThread] = await createConversations(server.db, 1, () => ({ tenantId: 'globex', threadId: 'globex-thread' }));
  sessions = await createSessions(server.db, 30, (index) => ({
    channel: index % 2 === 0 ? 'web' : 'phone',
    metadata: index % 3 === 0 ? { threadId: `acme-thread-${index % 5}` } : index % 3 === 1 ? { threadId: 'globex-thread' } : {},
  }));
});
afterAll(() => server?.close());

const linked = (index: number) => index % 3 === 0;

const SESSIONS = /* GraphQL */ `
  query Sessions($first: Int, $filter: SessionFilter) {
    sessions(first: $first, filter: $filter, orderBy: { field: STARTED_AT, direction: ASC }) {
      totalCount
      nodes {
        sessionId
        threadId
        conversation {
          id
          threadId
          status
          costUsd
        }
      }
    }
  }
`;
interface SessionsData {
  sessions: {
    totalCount: number;
    nodes: {
      sessionId: string;
      threadId: string | null;
      conversation: { id: string; threadId: string; status: string; costUsd: string } | null;
    }[];
  };
}

it("links each session to its tenant's conversation of its thread, and to nothing for another tenant's thread", async () => {
  const response = await server.graphql<SessionsData>(SESSIONS, { first: 30 });
  expect(response.errors).toBeUndefined();
  const nodes = response.data!.sessions.nodes;
  nodes.forEach((node, index) => {
    expect(node.sessionId).toBe(sessions[index]!.externalId);
    if (linked(index)) {
      const thread = threads[index % 5]!;
      expect(node.conversation).toEqual({
        id: toGlobalId('Conversation', thread.id),
        threadId: thread.threadId,
        status: thread.status,
        costUsd: thread.costUsd.toFixed(8),
      });
    } else {
      expect(node.threadId).toBe(index % 3 === 1 ? 'globex-thread' : null);
      expect(node.conversation).toBeNull();
    }
  });
  expect(JSON.stringify(response.data)).not.toContain(toGlobalId('Conversation', foreignThread.id));
});

it.each([5, 30])('answers a page of %i sessions with their conversations in a constant number of statements', async (first) => {
  await server.graphql(SESSIONS, { first: 1 });
  const { result, statements } = await server.db.statements.record(() => server.graphql<SessionsData>(SESSIONS, { first }));
  expect(result.data!.sessions.nodes).toHaveLength(first);
  // The page with its total, then one statement for every conversation of the page (the DataLoader's batch).
  expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(2);
});

it('filters sessions with and without a conversation, and the total and statistics agree', async () => {
  const withConversation = sessions.filter((_, index) => linked(index)).map((session) => session.externalId);
  const yes = await server.graphql<SessionsData>(SESSIONS, { first: 30, filter: { hasConversation: true } });
  const no = await server.graphql<SessionsData>(SESSIONS, { first: 30, filter: { hasConversation: false } });
  expect(yes.data!.sessions.nodes.map((node) => node.sessionId)).toEqual(withConversation);
  expect(yes.data!.sessions.totalCount).toBe(withConversation.length);
  expect(no.data!.sessions.totalCount).toBe(30 - withConversation.length);
  expect(no.data!.sessions.nodes.every((node) => node.conversation === null)).toBe(true);
  const stats = await server.graphql<{ sessionStats: { totalSessions: number } }>(
    'query($filter: SessionFilter) { sessionStats(filter: $filter) { totalSessions } }',
    { filter: { hasConversation: true } },
  );
  expect(stats.data!.sessionStats.totalSessions).toBe(withConversation.length);
});

const CONVERSATION_SESSIONS = /* GraphQL */ `
  query ConversationSessions($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter) {
    conversations(first: 10, filter: $filter, orderBy: { field: CREATED_AT, direction: ASC }) {
      totalCount
      nodes {
        threadId
        sessions(first: $first, after: $after, last: $last, before: $before) {
          totalCount
          nodes {
            sessionId
            channel
          }
          pageInfo {
            hasNextPage
            hasPreviousPage
            endCursor
            startCursor
          }
        }
      }
    }
  }
`;
interface ConversationSessionsData {
  conversations: {
    totalCount: number;
    nodes: {
      threadId: string;
      sessions: {
        totalCount: number;
        nodes: { sessionId: string; channel: string }[];
        pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null; startCursor: string | null };
      };
    }[];
  };
}

/** acme's sessions of thread `t`, oldest started first. */
const sessionsOfThread = (t: number) =>
  sessions.filter((_, index) => linked(index) && index % 5 === t).map((session) => session.externalId);

it('pages the sessions of each conversation, oldest started first, in both directions', async () => {
  const response = await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, { first: 1 });
  expect(response.errors).toBeUndefined();
  const nodes = response.data!.conversations.nodes;
  expect(nodes.map((node) => node.threadId)).toEqual(threads.map((thread) => thread.threadId));
  nodes.forEach((node, t) => {
    expect(node.sessions.totalCount).toBe(sessionsOfThread(t).length);
    expect(node.sessions.nodes.map((session) => session.sessionId)).toEqual(sessionsOfThread(t).slice(0, 1));
    expect(node.sessions.pageInfo.hasNextPage).toBe(sessionsOfThread(t).length > 1);
  });
  const filter = { status: ['INTERRUPTED'] };
  const firstPage = await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, { first: 1, filter });
  const next = await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, {
    first: 5,
    after: firstPage.data!.conversations.nodes[0]!.sessions.pageInfo.endCursor,
    filter,
  });
  expect(next.data!.conversations.nodes[0]!.sessions.nodes.map((session) => session.sessionId)).toEqual(sessionsOfThread(0).slice(1));
  const back = await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, {
    last: 1,
    before: next.data!.conversations.nodes[0]!.sessions.pageInfo.startCursor,
    filter,
  });
  expect(back.data!.conversations.nodes[0]!.sessions.nodes.map((session) => session.sessionId)).toEqual(sessionsOfThread(0).slice(0, 1));
});

it("answers a conversations page with each one's sessions and their count in a constant number of statements", async () => {
  await server.graphql(CONVERSATION_SESSIONS, { first: 1 });
  const { result, statements } = await server.db.statements.record(() =>
    server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, { first: 2 }),
  );
  expect(result.data!.conversations.nodes).toHaveLength(5);
  // The conversations page with its total, one statement for every conversation's sessions page, one for their counts.
  expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(3);
});

it("filters conversations by their sessions' channel", async () => {
  const byChannel = async (channel: string[]) =>
    (await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, { first: 1, filter: { channel } })).data!.conversations;
  // Thread t holds sessions i ≡ 0 (mod 3), i ≡ t (mod 5): i ≡ 0 (mod 6) ones are on web, i ≡ 3 (mod 6) ones on phone.
  const onChannel = (channel: 'web' | 'phone') =>
    threads
      .filter((_, t) => sessions.some((_, index) => linked(index) && index % 5 === t && (index % 2 === 0) === (channel === 'web')))
      .map((thread) => thread.threadId);
  const web = await byChannel(['web']);
  expect(web.nodes.map((node) => node.threadId)).toEqual(onChannel('web'));
  expect(web.totalCount).toBe(onChannel('web').length);
  expect((await byChannel(['email'])).totalCount).toBe(0);
  // Another tenant's session naming an acme thread does not put it on that tenant's channel.
  await createSessions(server.db, 1, () => ({
    tenantId: 'globex',
    channel: 'fax',
    metadata: { threadId: 'acme-thread-1' },
    startedAt: at(100),
  }));
  expect((await byChannel(['fax'])).totalCount).toBe(0);
});

it("shows another tenant's conversation neither through a session nor through the filter", async () => {
  const globexKey = await server.createKey('globex', ['read']);
  const response = await server.graphql<ConversationSessionsData>(CONVERSATION_SESSIONS, { first: 10 }, { apiKey: globexKey });
  // globex sees its own thread, with none of acme's sessions that name it.
  expect(response.data!.conversations.nodes).toEqual([
    expect.objectContaining({ threadId: 'globex-thread', sessions: expect.objectContaining({ totalCount: 0, nodes: [] }) }),
  ]);
});
