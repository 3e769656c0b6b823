// Compiled execution (graphql-jit) must answer exactly as graphql-js does. A request asking for a federated trace
// (ftv1) runs on graphql-js, so each operation here is sent both ways and the answers compared, data and errors.
import { getIntrospectionQuery, print } from 'graphql';
import { seedDatabase } from '../../prisma/seed';
import { conversationSyncConfigOf, syncConversations } from '../../src/conversations/conversation.sync';
import {
  ConversationReplayDocument,
  ConversationsTableDocument,
  NodesDocument,
  SessionDetailDocument,
  SessionsTableDocument,
  SessionStatsTilesDocument,
  UsageTilesDocument,
} from '../generated/operations';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

const TRACE_HEADERS = { 'apollo-federation-include-trace': 'ftv1' };
const NOW = new Date('2026-11-20T12:00:00.000Z');

let server: TestServer;
let ids: { session: string; busySession: string; conversation: string; message: string };

beforeAll(async () => {
  server = await startTestServer({ CONVERSATION_DEFAULT_TENANT: 'acme' });
  await seedDatabase(server.config.database.url as string, {
    tenants: 2,
    sessions: 30,
    messagesPerSession: 8,
    conversations: 4,
    longThreadSteps: 0,
    seed: 11,
    now: NOW,
  });
  await syncConversations(server.db, conversationSyncConfigOf(server.config));
  const listed = await server.graphql<{
    sessions: { nodes: { id: string; messageCount: number; messages: { nodes: { id: string }[] } }[] };
    conversations: { nodes: { id: string; stepCount: number }[] };
  }>(
    '{ sessions(first: 100) { nodes { id messageCount messages(first: 1) { nodes { id } } } } conversations(first: 10) { nodes { id stepCount } } }',
  );
  const sessions = [...listed.data!.sessions.nodes].sort((a, b) => b.messageCount - a.messageCount);
  ids = {
    session: sessions[sessions.length - 1]!.id,
    busySession: sessions[0]!.id,
    conversation: [...listed.data!.conversations.nodes].sort((a, b) => b.stepCount - a.stepCount)[0]!.id,
    message: sessions[0]!.messages.nodes[0]!.id,
  };
});

afterAll(() => server?.close());

/** Sends an operation compiled and on graphql-js; returns the compiled answer after checking both are the same. */
async function answeredAlike(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  const compiled = await server.graphql(query, variables);
  const traced = await server.graphql(query, variables, { headers: TRACE_HEADERS });
  expect(typeof traced.extensions?.ftv1).toBe('string');
  expect(compiled.extensions).not.toHaveProperty('ftv1');
  const { extensions: _compiledExtensions, ...compiledBody } = compiled;
  const { extensions: _tracedExtensions, ...tracedBody } = traced;
  expect(compiledBody).toEqual(tracedBody);
  return compiled;
}

describe('the dashboard operations', () => {
  it('sessions table, filtered and paged both ways', async () => {
    const first = await answeredAlike(print(SessionsTableDocument), { first: 7, filter: { status: ['CLOSED', 'ACTIVE'] } });
    const endCursor = (first.data as { sessions: { pageInfo: { endCursor: string } } }).sessions.pageInfo.endCursor;
    await answeredAlike(print(SessionsTableDocument), {
      first: 5,
      after: endCursor,
      orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'ASC' },
    });
    await answeredAlike(print(SessionsTableDocument), { last: 3, before: endCursor });
  });

  it('session detail with messages and trace', async () => {
    const detail = await answeredAlike(print(SessionDetailDocument), { id: ids.busySession, first: 50 });
    expect(detail.data).toHaveProperty('session.trace.counts');
    await answeredAlike(print(SessionDetailDocument), { id: ids.session, first: 2 });
  });

  it('stats tiles, conversations table, replay and usage', async () => {
    await answeredAlike(print(SessionStatsTilesDocument), { filter: { channel: ['web'] } });
    await answeredAlike(print(ConversationsTableDocument), { first: 10 });
    const replay = await answeredAlike(print(ConversationReplayDocument), { id: ids.conversation, first: 15 });
    expect((replay.data as { conversation: { replay: { edges: unknown[] } } }).conversation.replay.edges.length).toBeGreaterThan(0);
    await answeredAlike(print(UsageTilesDocument), {
      groupBy: 'CHANNEL',
      filter: { from: '2026-10-01T00:00:00.000Z', to: NOW.toISOString() },
    });
  });
});

describe('variables', () => {
  const sessionsOrdered = 'query ($o: SessionOrder) { sessions(orderBy: $o, first: 4) { nodes { id startedAt lastActivityAt } } }';

  it.each([
    ['an omitted field', { o: { direction: 'ASC' } }],
    ['the other omitted field', { o: { field: 'LAST_ACTIVITY_AT' } }],
    ['every field omitted', { o: {} }],
    ['null', { o: null }],
    ['no value', {}],
  ])('an input object with %s takes the input fields’ defaults', async (_case, variables) => {
    const response = await answeredAlike(sessionsOrdered, variables);
    expect(response.errors).toBeUndefined();
  });

  it('ConversationOrder with only its field', async () => {
    const response = await answeredAlike('query ($o: ConversationOrder) { conversations(orderBy: $o, first: 3) { nodes { id } } }', {
      o: { field: 'CREATED_AT' },
    });
    expect(response.errors).toBeUndefined();
  });

  it('defaults of variables, with input objects, dates and enums', async () => {
    const response = await answeredAlike(
      `query ($o: SessionOrder = { direction: ASC }, $f: SessionFilter = { startedAfter: "2026-11-01T00:00:00Z", status: ACTIVE }) {
        sessions(orderBy: $o, filter: $f, first: 5) { nodes { id status } totalCount }
      }`,
    );
    expect(response.errors).toBeUndefined();
  });

  it('variables inside object and list literals, given and omitted', async () => {
    const query = `query ($d: OrderDirection, $c: String, $s: [SessionStatus!]) {
      sessions(first: 3, orderBy: { direction: $d }, filter: { channel: [$c], status: $s }) { nodes { id channel } }
    }`;
    for (const variables of [{}, { d: 'ASC' }, { c: 'web', s: 'ACTIVE' }, { d: null }, { c: null }]) await answeredAlike(query, variables);
  });

  it('a single value where a list is expected, and a replay namespace left to its default', async () => {
    const response = await answeredAlike('query ($c: [String!]) { sessions(filter: { channel: $c }, first: 2) { totalCount } }', {
      c: 'web',
    });
    expect(response.errors).toBeUndefined();
    await answeredAlike(
      'query ($id: ID!, $ns: String) { conversation(id: $id) { replay(first: 2, namespace: $ns) { nodes { ordinal } } } }',
      {
        id: ids.conversation,
      },
    );
  });
});

describe('GraphQL features', () => {
  it('node and nodes across types, with fragments, __typename, aliases, @skip and @include', async () => {
    await answeredAlike(print(NodesDocument), { ids: [ids.session, ids.conversation, ids.message] });
    await answeredAlike(
      /* GraphQL */ `
        query Features($id: ID!, $withMessages: Boolean!, $withoutCount: Boolean!) {
          a: node(id: $id) {
            __typename
            ...SessionParts
          }
          b: session(id: $id) {
            count: messageCount @skip(if: $withoutCount)
            lastMessage {
              id
              role
              session {
                id
              }
            }
            messages(last: 2) @include(if: $withMessages) {
              edges {
                cursor
              }
              totalCount
            }
          }
        }
        fragment SessionParts on Session {
          id
          channel
          metadata
        }
      `,
      { id: ids.busySession, withMessages: true, withoutCount: false },
    );
  });

  it('introspection, as GraphiQL sends it', async () => {
    const response = await answeredAlike(getIntrospectionQuery({ inputValueDeprecation: true, specifiedByUrl: true }));
    expect(response.data).toHaveProperty('__schema.queryType.name', 'Query');
  });
});

describe('errors', () => {
  it('a resolver error keeps its code, path and location', async () => {
    const response = await answeredAlike(
      '{\n  ok: sessions(first: 1) { totalCount }\n  bad: sessions(first: 1, after: "nonsense") { totalCount }\n}',
    );
    expect(response.data).toBeNull();
    expect(response.errors).toEqual([
      expect.objectContaining({
        path: ['bad'],
        locations: [{ line: 3, column: 3 }],
        extensions: { code: 'BAD_USER_INPUT', argument: 'after' },
      }),
    ]);
  });

  it('an unexpected error is masked, with its path and location', async () => {
    await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations RENAME TO conversations_away');
    let response: GraphQLResponse;
    try {
      response = await answeredAlike('{\n  conversations(first: 1) { totalCount }\n}');
    } finally {
      await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations_away RENAME TO conversations');
    }
    expect(response.status).toBe(200);
    expect(response.data).toBeNull();
    expect(response.errors).toEqual([
      {
        message: 'Internal server error',
        path: ['conversations'],
        locations: [{ line: 2, column: 3 }],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
  });

  it('a refused variable says which value failed and why, as BAD_USER_INPUT', async () => {
    const response = await answeredAlike(print(SessionsTableDocument), { filter: { startedAfter: 'yesterday' } });
    // A GraphQL response as application/json answers 200 (GraphQL over HTTP); the code is in the body.
    expect(response.status).toBe(200);
    expect(response.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('"yesterday" at "filter.startedAfter"; DateTime cannot represent'),
        // The path of the offending input field from the argument the variable is passed to (variable-errors.ts).
        extensions: { code: 'BAD_USER_INPUT', argument: 'filter.startedAfter' },
      }),
    ]);
    const missing = await answeredAlike(print(SessionDetailDocument), {});
    expect(missing.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'id' });
  });

  it('an unknown id and a foreign one both answer null', async () => {
    const foreign = await server.createKey('globex');
    const asGlobex = await server.graphql(print(SessionDetailDocument), { id: ids.session }, { apiKey: foreign });
    expect(asGlobex.data).toEqual({ session: null });
    await answeredAlike(print(SessionDetailDocument), { id: 'U2Vzc2lvbjowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA' });
  });
});
