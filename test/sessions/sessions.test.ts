import type { Session } from '../../src/generated/prisma/client';
import { at, createMessages, createSession, createSessions, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { SessionDetailDocument, SessionPanelDocument, SessionStatsTilesDocument, SessionsTableDocument } from '../generated/operations';
import { toGlobalId } from '../../src/graphql/global-id';

const SESSIONS = /* GraphQL */ `
  query Sessions($first: Int, $after: String, $last: Int, $before: String, $filter: SessionFilter, $orderBy: SessionOrder) {
    sessions(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      edges {
        cursor
        node {
          id
          sessionId
        }
      }
      nodes {
        sessionId
        status
        channel
        startedAt
        lastActivityAt
        endedAt
        duration
        messageCount
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

interface SessionsData {
  sessions: {
    edges: { cursor: string; node: { id: string; sessionId: string } }[];
    nodes: { sessionId: string; status: string; channel: string; startedAt: string; messageCount: number; duration: number }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    totalCount: number;
  };
}

let server: TestServer;
let acme: Session[];
let globexSession: Session;

beforeAll(async () => {
  server = await startTestServer();
  // 30 sessions of acme, one per minute; channel and status vary; last activity runs in reverse order.
  acme = await createSessions(server.db, 30, (index) => ({
    externalId: `acme-${String(index).padStart(2, '0')}`,
    channel: ['web', 'app', 'phone'][index % 3]!,
    status: index % 5 === 0 ? 'CLOSED' : index % 7 === 0 ? 'EXPIRED' : 'ACTIVE',
    startedAt: at(index),
    lastActivityAt: at(100 - index),
    endedAt: index % 5 === 0 || index % 7 === 0 ? at(100 - index) : null,
  }));
  await createMessages(server.db, acme[3]!, [{ role: 'USER' }, { role: 'ASSISTANT' }, { role: 'USER' }]);
  await createMessages(server.db, acme[4]!, [{ role: 'USER' }]);
  globexSession = await createSession(server.db, { tenantId: 'globex', externalId: 'acme-03', startedAt: at(3) });
  await createMessages(server.db, globexSession, [{ role: 'USER' }, { role: 'USER' }]);
});

afterAll(() => server?.close());

async function sessions(variables: Record<string, unknown>) {
  const response = await server.graphql<SessionsData>(SESSIONS, variables);
  expect(response.errors).toBeUndefined();
  return response.data!.sessions;
}

async function errorCode(query: string, variables: Record<string, unknown> = {}, options = {}) {
  const response = await server.graphql(query, variables, options);
  expect(response.errors?.length).toBeGreaterThan(0);
  return response.errors![0]!.extensions?.code;
}

describe('sessions list', () => {
  it('defaults to 20 sessions, newest started first, with counts of the whole list', async () => {
    const page = await sessions({});
    expect(page.nodes).toHaveLength(20);
    expect(page.nodes.map((node) => node.sessionId)).toEqual(
      acme
        .slice(10)
        .reverse()
        .map((row) => row.externalId),
    );
    expect(page.totalCount).toBe(30);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(page.nodes.find((node) => node.sessionId === 'acme-03')).toBeUndefined();
  });

  it('counts messages per session and never counts another tenant', async () => {
    const page = await sessions({ filter: { sessionId: 'acme-03' } });
    expect(page.nodes).toEqual([expect.objectContaining({ sessionId: 'acme-03', messageCount: 3 })]);
    expect(page.totalCount).toBe(1);
  });

  it('orders by start or last activity in both directions', async () => {
    const ascending = await sessions({ first: 3, orderBy: { field: 'STARTED_AT', direction: 'ASC' } });
    expect(ascending.nodes.map((node) => node.sessionId)).toEqual(['acme-00', 'acme-01', 'acme-02']);
    const byActivity = await sessions({ first: 3, orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'DESC' } });
    expect(byActivity.nodes.map((node) => node.sessionId)).toEqual(['acme-00', 'acme-01', 'acme-02']);
    const byActivityAscending = await sessions({ first: 2, orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'ASC' } });
    expect(byActivityAscending.nodes.map((node) => node.sessionId)).toEqual(['acme-29', 'acme-28']);
  });

  it.each([
    [{ status: ['CLOSED'] }, (i: number) => i % 5 === 0],
    [{ status: ['EXPIRED', 'CLOSED'] }, (i: number) => i % 5 === 0 || i % 7 === 0],
    [{ channel: ['phone'] }, (i: number) => i % 3 === 2],
    [{ channel: ['web', 'app'], status: ['ACTIVE'] }, (i: number) => i % 3 !== 2 && i % 5 !== 0 && i % 7 !== 0],
    [{ startedAfter: at(10).toISOString(), startedBefore: at(15).toISOString() }, (i: number) => i >= 10 && i < 15],
    [{ lastActivityAfter: at(90).toISOString() }, (i: number) => 100 - i >= 90],
    [{ lastActivityBefore: at(72).toISOString() }, (i: number) => 100 - i < 72],
    [{ status: [], channel: [] }, () => true],
  ])('filters by %j', async (filter, expected) => {
    const page = await sessions({ first: 100, filter });
    const wanted = acme.map((row, index) => [row, index] as const).filter(([, index]) => expected(index));
    expect(page.nodes.map((node) => node.sessionId).sort()).toEqual(wanted.map(([row]) => row.externalId).sort());
    expect(page.totalCount).toBe(wanted.length);
  });

  it("reads each session's metadata when the selection shows it, through fragments too", async () => {
    await server.db.prisma.session.update({ where: { id: acme[29]!.id }, data: { metadata: { locale: 'de-DE' } } });
    try {
      const response = await server.graphql<{ sessions: unknown }>(
        `{ sessions(first: 2) { nodes { sessionId metadata } edges { node { ...Metadata } } } }
         fragment Metadata on Session { metadata }`,
      );
      expect(response.data!.sessions).toEqual({
        nodes: [
          { sessionId: 'acme-29', metadata: { locale: 'de-DE' } },
          { sessionId: 'acme-28', metadata: {} },
        ],
        edges: [{ node: { metadata: { locale: 'de-DE' } } }, { node: { metadata: {} } }],
      });
    } finally {
      await server.db.prisma.session.update({ where: { id: acme[29]!.id }, data: { metadata: {} } });
    }
  });

  it('returns an empty page for a filter that matches nothing', async () => {
    const page = await sessions({ filter: { channel: ['fax'] } });
    expect(page).toEqual({
      edges: [],
      nodes: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      totalCount: 0,
    });
  });

  it.each([
    [{ field: 'STARTED_AT', direction: 'DESC' }],
    [{ field: 'STARTED_AT', direction: 'ASC' }],
    [{ field: 'LAST_ACTIVITY_AT', direction: 'DESC' }],
  ])('walks forward and backward over the same rows (%j)', async (orderBy) => {
    const forward: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: SessionsData['sessions'] = await sessions({ first: 7, after, orderBy });
      forward.push(...page.nodes.map((node) => node.sessionId));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      expect(page.nodes).toHaveLength(7);
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(new Set(forward).size).toBe(30);

    const backward: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: SessionsData['sessions'] = await sessions({ last: 7, before, orderBy });
      backward.unshift(...page.nodes.map((node) => node.sessionId));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(backward).toEqual(forward);
  });

  it('keeps ties in a stable order by id', async () => {
    const tied = await createSessions(server.db, 5, (index) => ({ tenantId: 'globex', externalId: `tie-${index}`, startedAt: at(500) }));
    const key = await server.createKey('globex');
    const seen: string[] = [];
    let after: string | null = null;
    for (let index = 0; index < 5; index++) {
      const response: Awaited<ReturnType<typeof server.graphql<SessionsData>>> = await server.graphql<SessionsData>(
        SESSIONS,
        { first: 1, after, filter: { startedAfter: at(500).toISOString() } },
        { apiKey: key },
      );
      seen.push(response.data!.sessions.nodes[0]!.sessionId);
      after = response.data!.sessions.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(tied.map((row) => row.externalId).sort());
  });
});

describe('sessions input errors', () => {
  it.each([
    [{ first: 0 }],
    [{ first: 101 }],
    [{ last: -1 }],
    [{ first: 5, last: 5 }],
    [{ after: 'not-a-cursor' }],
    [{ before: 'bm90LWpzb24' }],
    [{ first: 5, before: null, after: Buffer.from('["Message:CREATED_AT","2026-01-01T00:00:00.000Z","x"]').toString('base64url') }],
    [{ filter: { startedAfter: at(10).toISOString(), startedBefore: at(5).toISOString() } }],
    [{ filter: { lastActivityAfter: at(10).toISOString(), lastActivityBefore: at(10).toISOString() } }],
    [{ filter: { startedAfter: 'yesterday' } }],
    [{ filter: { startedAfter: '2026-02-30T00:00:00Z' } }],
    [{ filter: { status: ['OPEN'] } }],
    [{ orderBy: { field: 'CHANNEL' } }],
  ])('rejects %j with BAD_USER_INPUT', async (variables) => {
    expect(await errorCode(SESSIONS, variables)).toBe('BAD_USER_INPUT');
  });

  it('rejects a cursor of another order', async () => {
    const page = await sessions({ first: 1, orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'DESC' } });
    expect(await errorCode(SESSIONS, { after: page.pageInfo.endCursor })).toBe('BAD_USER_INPUT');
  });

  it('rejects an inline malformed literal before execution', async () => {
    expect(await errorCode('{ sessions(filter: { startedAfter: "nope" }) { totalCount } }')).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('one session', () => {
  const SESSION = /* GraphQL */ `
    query Session($id: ID!) {
      session(id: $id) {
        id
        sessionId
        status
        messageCount
        duration
        metadata
        lastMessage {
          role
          content
          session {
            sessionId
          }
        }
        messages(first: 2) {
          nodes {
            role
            content
          }
          pageInfo {
            hasNextPage
          }
          totalCount
        }
        users: messages(role: USER) {
          totalCount
          nodes {
            content
          }
        }
      }
    }
  `;

  it('fetches a session with its messages, last message and counts', async () => {
    const session = acme[3]!;
    const response = await server.graphql(SESSION, { id: sessionGid(session) });
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      session: {
        id: sessionGid(session),
        sessionId: 'acme-03',
        status: 'ACTIVE',
        messageCount: 3,
        duration: (100 - 3 - 3) * 60,
        metadata: {},
        lastMessage: { role: 'USER', content: 'message 2', session: { sessionId: 'acme-03' } },
        messages: {
          nodes: [
            { role: 'USER', content: 'message 0' },
            { role: 'ASSISTANT', content: 'message 1' },
          ],
          pageInfo: { hasNextPage: true },
          totalCount: 3,
        },
        users: { totalCount: 2, nodes: [{ content: 'message 0' }, { content: 'message 2' }] },
      },
    });
  });

  it('finds a session by the bot session id within the tenant only', async () => {
    const query = 'query($sessionId: String!) { sessionByExternalId(sessionId: $sessionId) { sessionId messageCount } }';
    expect((await server.graphql(query, { sessionId: 'acme-03' })).data).toEqual({
      sessionByExternalId: { sessionId: 'acme-03', messageCount: 3 },
    });
    expect((await server.graphql(query, { sessionId: 'missing' })).data).toEqual({ sessionByExternalId: null });
  });

  it('treats another tenant session exactly like a missing one', async () => {
    const foreign = await server.graphql(SESSION, { id: sessionGid(globexSession) });
    const missing = await server.graphql(SESSION, { id: sessionGid({ id: '00000000-0000-4000-8000-000000000000' }) });
    expect(foreign).toMatchObject({ status: 200, data: { session: null } });
    expect(foreign.errors).toBeUndefined();
    // Alike but for the budget restored between the two requests.
    const withoutBudget = ({ extensions, ...answer }: typeof foreign) => ({
      ...answer,
      cost: (extensions?.cost as { requested: number }).requested,
    });
    expect(withoutBudget(missing)).toEqual(withoutBudget(foreign));
    const node = await server.graphql('query($id: ID!) { node(id: $id) { id } }', { id: sessionGid(globexSession) });
    expect(node.data).toEqual({ node: null });
  });

  it.each(['garbage', 'U2Vzc2lvbjpub3QtYS11dWlk', Buffer.from('Tenant:00000000-0000-4000-8000-000000000000').toString('base64url')])(
    'rejects the malformed id %s with BAD_USER_INPUT',
    async (id) => {
      expect(await errorCode(SESSION, { id })).toBe('BAD_USER_INPUT');
    },
  );

  it('resolves nodes in order with null for missing ones', async () => {
    const response = await server.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Session { sessionId } } }', {
      ids: [sessionGid(acme[1]!), sessionGid(globexSession), sessionGid(acme[2]!)],
    });
    expect(response.data).toEqual({
      nodes: [
        { __typename: 'Session', id: sessionGid(acme[1]!), sessionId: 'acme-01' },
        null,
        { __typename: 'Session', id: sessionGid(acme[2]!), sessionId: 'acme-02' },
      ],
    });
  });
});

describe('batching', () => {
  it.each([1, 20, 100])('answers a page of %i sessions with messageCount and totalCount in one statement', async (first) => {
    await server.graphql(SESSIONS, { first: 1 }); // warm the key lookup
    const { result, statements } = await server.db.statements.record(() => server.graphql<SessionsData>(SESSIONS, { first }));
    expect(result.errors).toBeUndefined();
    expect(result.data!.sessions.nodes).toHaveLength(Math.min(first, 30));
    // the page, each session's count (primed into the messageCount DataLoader) and the total
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });

  it('gives the same messageCounts and totalCount whether they come with the page or on their own', async () => {
    const withPage = await server.graphql<{ sessions: { totalCount: number; nodes: { id: string; messageCount: number }[] } }>(
      'query { sessions(first: 30) { totalCount nodes { id messageCount } } }',
    );
    // Through node(id) each messageCount goes through the DataLoader's own grouped statement.
    const ids = withPage.data!.sessions.nodes.map((node) => node.id);
    const { result: one, statements } = await server.db.statements.record(() =>
      server.graphql<{ nodes: { messageCount: number }[] }>(
        'query($ids: [ID!]!) { nodes(ids: $ids) { ... on Session { messageCount } } }',
        {
          ids,
        },
      ),
    );
    expect(one.data!.nodes.map((node) => node.messageCount)).toEqual(withPage.data!.sessions.nodes.map((node) => node.messageCount));
    expect(statements.filter((sql) => /GROUP BY/i.test(sql))).toHaveLength(1);
    expect(withPage.data!.sessions.nodes.some((node) => node.messageCount > 0)).toBe(true);
    const aliased = await server.graphql<{ s: { n: number } }>(
      'query { s: sessions(first: 1) { ... on SessionConnection { n: totalCount } } }',
    );
    expect(aliased.data!.s.n).toBe(withPage.data!.sessions.totalCount);
  });

  it("loads each messageCount and a traced session's messages on their own with LOAD_PER_FIELD=true (no batching, no prefetch)", async () => {
    const unbatched = await startTestServer({ LOAD_PER_FIELD: 'true' });
    try {
      const sessionRows = await createSessions(unbatched.db, 4);
      await createMessages(unbatched.db, sessionRows[0]!, [{ role: 'USER' }, { role: 'ASSISTANT' }]);
      await unbatched.graphql('{ __typename }'); // warm the key lookup
      const table = await unbatched.db.statements.record(() =>
        unbatched.graphql<{ sessions: { nodes: { messageCount: number }[] } }>('{ sessions(first: 10) { nodes { messageCount } } }'),
      );
      expect(table.result.data!.sessions.nodes.map((node) => node.messageCount).sort()).toEqual([0, 0, 0, 2]);
      expect(table.statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1 + 4);
      const detail = await unbatched.db.statements.record(() =>
        unbatched.graphql(SessionDetailDocument, { id: sessionGid(sessionRows[0]!), first: 10 }),
      );
      expect(detail.result.errors).toBeUndefined();
      // session, messages page, count, trace
      expect(detail.statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(4);
    } finally {
      await unbatched.close();
    }
  });

  it('pages the messages of many sessions in one statement, each page as the session alone pages it', async () => {
    // A tenant of its own, so that other tests' counts stay as they are.
    const apiKey = await server.createKey('batching', ['read']);
    const rows = await createSessions(server.db, 12, (index) => ({ tenantId: 'batching', externalId: `batched-pages-${index}` }));
    for (const [index, row] of rows.entries()) {
      await createMessages(
        server.db,
        row,
        Array.from({ length: index % 4 }, (_, n) => ({
          role: n % 2 === 0 ? ('USER' as const) : ('ASSISTANT' as const),
          content: `${index}.${n}`,
        })),
      );
    }
    const ids = rows.map(sessionGid);
    type Pages = { nodes: ({ messages: { pageInfo: { hasNextPage: boolean }; nodes: { content: string }[] } } | null)[] };
    const query = `query($ids: [ID!]!, $role: MessageRole) {
      nodes(ids: $ids) { ... on Session { messages(first: 2, role: $role) { pageInfo { hasNextPage } nodes { content } } } }
    }`;
    for (const role of [null, 'USER']) {
      await server.graphql('{ __typename }', {}, { apiKey }); // warm the key lookup
      const { result, statements } = await server.db.statements.record(() => server.graphql<Pages>(query, { ids, role }, { apiKey }));
      expect(result.errors).toBeUndefined();
      // the sessions (one DataLoader batch) and every session's page (one more)
      expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(2);
      for (const [index, id] of ids.entries()) {
        const alone = await server.graphql<{ node: Pages['nodes'][number] }>(
          `query($id: ID!, $role: MessageRole) { node(id: $id) { ... on Session { messages(first: 2, role: $role) { pageInfo { hasNextPage } nodes { content } } } } }`,
          { id, role },
          { apiKey },
        );
        expect(result.data!.nodes[index]).toEqual(alone.data!.node);
      }
    }
    // Another tenant's key sees none of them.
    const foreign = await server.graphql<Pages>(query, { ids, role: null });
    expect(foreign.data!.nodes).toEqual(ids.map(() => null));
  });

  it('answers an empty page with its total', async () => {
    const { data } = await server.graphql<{ sessions: { totalCount: number; nodes: unknown[] } }>(
      'query { sessions(first: 5, filter: { sessionId: "no-such-session" }) { totalCount nodes { id messageCount } } }',
    );
    expect(data).toEqual({ sessions: { totalCount: 0, nodes: [] } });
  });

  it('seeks a later page by the cursor position, not by skipping rows', async () => {
    const first = await sessions({ first: 10 });
    const { statements } = await server.db.statements.record(() =>
      server.graphql(SESSIONS, { first: 10, after: first.pageInfo.endCursor }),
    );
    const page = statements.find((sql) => /FROM sessions s WHERE/.test(sql) && /LIMIT/.test(sql))!;
    expect(page).toMatch(/\(s\.started_at, s\.id\) < \(\$\d+, \$\d+::uuid\)/);
    expect(page).not.toMatch(/OFFSET/i);
  });

  it('skips the count when totalCount is not selected', async () => {
    const { statements } = await server.db.statements.record(() => server.graphql('{ sessions(first: 5) { nodes { id } } }'));
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });
});

describe('sessionStats', () => {
  it('counts by status and channel and messages per day with the sessions filter', async () => {
    const response = await server.graphql(
      `query($filter: SessionFilter) { sessionStats(filter: $filter) { totalSessions byStatus { status count } byChannel { channel count } messagesPerDay { day count } } }`,
      { filter: { startedBefore: at(6).toISOString() } },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      sessionStats: {
        totalSessions: 6,
        byStatus: [
          { status: 'ACTIVE', count: 4 },
          { status: 'CLOSED', count: 2 },
        ],
        byChannel: [
          { channel: 'app', count: 2 },
          { channel: 'phone', count: 2 },
          { channel: 'web', count: 2 },
        ],
        messagesPerDay: [{ day: '2026-11-01', count: 4 }],
      },
    });
  });

  it('rejects an inverted range', async () => {
    const query = 'query($filter: SessionFilter) { sessionStats(filter: $filter) { totalSessions } }';
    expect(await errorCode(query, { filter: { startedAfter: at(6).toISOString(), startedBefore: at(1).toISOString() } })).toBe(
      'BAD_USER_INPUT',
    );
  });
});

describe('dashboard operations', () => {
  it('opens a session with its messages and the trace read from their metadata', async () => {
    const session = await createSession(server.db, { externalId: 'traced' });
    const [user, assistant] = await createMessages(server.db, session, [
      { role: 'USER', content: 'Where is my order?' },
      {
        role: 'ASSISTANT',
        content: 'It shipped yesterday.',
        metadata: {
          model: 'gpt-4o-mini',
          retrieval: [{ source: 'kb/shipping.md', score: 0.91, snippet: 'Orders ship within 24h' }, { score: 0.2 }],
          toolCalls: [
            {
              id: 'call_1',
              name: 'lookup_order',
              arguments: { orderId: 'A-1' },
              result: { status: 'shipped' },
              status: 'success',
              durationMs: 120,
            },
            { id: 'call_2', name: 'notify', arguments: {}, status: 'error', error: 'timeout after 5s', durationMs: 5000 },
          ],
          errors: [{ message: 'Upstream model timed out', code: 'MODEL_TIMEOUT', at: '2026-11-01T12:02:30.000Z' }, 'not an object'],
        },
      },
    ]);
    const response = await server.graphql(SessionDetailDocument, { id: sessionGid(session), first: 10 });
    expect(response.errors).toBeUndefined();
    const detail = response.data!.session!;
    expect(detail.messages.nodes.map((message) => [message.role, message.content])).toEqual([
      ['USER', 'Where is my order?'],
      ['ASSISTANT', 'It shipped yesterday.'],
    ]);
    expect(detail.messages.nodes[0]!.id).toBe(toGlobalId('Message', user!.id));
    const messageId = toGlobalId('Message', assistant!.id);
    expect(detail.trace).toEqual({
      counts: { retrievals: 1, toolCalls: 2, failedToolCalls: 1, errors: 1 },
      retrievals: [
        { messageId, at: assistant!.createdAt.toISOString(), source: 'kb/shipping.md', score: 0.91, snippet: 'Orders ship within 24h' },
      ],
      toolCalls: [
        {
          messageId,
          at: assistant!.createdAt.toISOString(),
          callId: 'call_1',
          name: 'lookup_order',
          arguments: { orderId: 'A-1' },
          result: { status: 'shipped' },
          status: 'SUCCESS',
          error: null,
          durationMs: 120,
        },
        {
          messageId,
          at: assistant!.createdAt.toISOString(),
          callId: 'call_2',
          name: 'notify',
          arguments: {},
          result: null,
          status: 'ERROR',
          error: 'timeout after 5s',
          durationMs: 5000,
        },
      ],
      errors: [{ messageId, at: '2026-11-01T12:02:30.000Z', message: 'Upstream model timed out', code: 'MODEL_TIMEOUT' }],
    });
  });

  it('opens a session with its messages, count and trace in one statement', async () => {
    await server.graphql(SessionDetailDocument, { id: sessionGid(acme[3]!) });
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql(SessionDetailDocument, { id: sessionGid(acme[3]!), first: 50 }),
    );
    expect(result.data!.session!.messageCount).toBe(3);
    expect(result.data!.session!.messages.nodes).toHaveLength(3);
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });

  it('pages the messages of a session opened with its trace exactly as it pages them alone', async () => {
    const session = await createSession(server.db, { externalId: 'paged-with-trace' });
    const tie = new Date(session.startedAt.getTime() + 90_000);
    // Ties on createdAt are ordered by id, in memory as in SQL.
    await createMessages(
      server.db,
      session,
      Array.from({ length: 9 }, (_, index) => ({
        role: index % 3 === 0 ? ('ASSISTANT' as const) : ('USER' as const),
        content: `m${index}`,
        ...(index >= 3 && index <= 6 ? { createdAt: tie } : {}),
      })),
    );
    // Three ways to one page: read with the session (its one statement), from all messages read for the trace, and
    // through the batched page loader (under `node`, which reads the session alone).
    const page = (
      way: 'with-session' | 'trace' | 'loader',
    ) => `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $role: MessageRole) {
      session: ${way === 'loader' ? 'node' : 'session'}(id: $id) {
        ... on Session {
          ${way === 'trace' ? 'trace { counts { errors } }' : ''}
          messages(first: $first, after: $after, last: $last, before: $before, role: $role) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            edges { cursor node { content } }
          }
        }
      }
    }`;
    type Page = { session: { messages: { pageInfo: { endCursor: string | null; startCursor: string | null } } } };
    const both = async (variables: Record<string, unknown>) => {
      const [sql, memory, loader] = await Promise.all(
        (['with-session', 'trace', 'loader'] as const).map((way) => server.graphql<Page>(page(way), variables)),
      );
      expect(sql!.errors).toBeUndefined();
      expect(memory!.data!.session.messages).toEqual(sql!.data!.session.messages);
      expect(loader!.data!.session.messages).toEqual(sql!.data!.session.messages);
      return sql!.data!.session.messages;
    };
    const id = sessionGid(session);
    for (const role of [null, 'USER', 'ASSISTANT']) {
      const forward = await both({ id, first: 2, role });
      await both({ id, first: 3, after: forward.pageInfo.endCursor, role });
      const backward = await both({ id, last: 2, role });
      await both({ id, last: 3, before: backward.pageInfo.startCursor, role });
      await both({ id, first: 100, role });
    }
    for (const way of ['with-session', 'trace', 'loader'] as const)
      expect(await errorCode(page(way), { id, first: 2, after: 'not-a-cursor' })).toBe('BAD_USER_INPUT');
  });

  it('opens a session panel (its fields and first messages, no trace) in one statement that reads only the metadata it shows', async () => {
    await server.graphql(SessionPanelDocument, { id: sessionGid(acme[3]!) });
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql(SessionPanelDocument, { id: sessionGid(acme[3]!), first: 2 }),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.session!.messages.nodes).toHaveLength(2);
    expect(result.data!.session!.messages.pageInfo.hasNextPage).toBe(true);
    const sql = statements.filter((text) => !/api_keys/.test(text));
    expect(sql).toHaveLength(1);
    // The panel shows the session's metadata, not its messages'.
    expect(sql[0]).toMatch(/s\.metadata/);
    expect(sql[0]).not.toMatch(/m\.metadata/);
  });

  it('runs the sessions table and the stats tiles', async () => {
    const table = await server.graphql(SessionsTableDocument, {
      first: 5,
      filter: { status: ['ACTIVE'] },
      orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'DESC' },
    });
    expect(table.data!.sessions.edges.map((edge) => edge.node.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE']);
    const tiles = await server.graphql(SessionStatsTilesDocument, {});
    expect(tiles.data!.sessionStats.totalSessions).toBeGreaterThanOrEqual(30);
  });
});

describe('Session.durationMs', () => {
  it('is the duration in milliseconds, beside the deprecated duration in seconds', async () => {
    const startedAt = new Date('2026-11-01T10:00:00.000Z');
    const session = await createSession(server.db, {
      externalId: 'duration-ms',
      startedAt,
      lastActivityAt: new Date(startedAt.getTime() + 90_500),
      endedAt: new Date(startedAt.getTime() + 125_250),
      status: 'CLOSED',
    });
    const { data } = await server.graphql<{ sessionByExternalId: { duration: number; durationMs: number } }>(
      `{ sessionByExternalId(sessionId: "${session.externalId}") { duration durationMs } }`,
    );
    expect(data).toEqual({ sessionByExternalId: { duration: 125.25, durationMs: 125_250 } });
  });
});

describe('session metadata', () => {
  let session: Session;
  beforeAll(async () => {
    session = await createSession(server.db, { externalId: 'with-metadata', metadata: { plan: 'pro', tags: ['vip'] } });
    await createMessages(server.db, session, [{ role: 'USER' }]);
  });
  // The other blocks count acme's sessions.
  afterAll(() => server.db.prisma.session.delete({ where: { id: session.id } }));
  const withoutSql = (statements: string[]) => statements.filter((sql) => !/api_keys/.test(sql));

  it('is read by the lookup only when selected: one statement either way', async () => {
    const bare = await server.db.statements.record(() =>
      server.graphql('query ($id: ID!) { session(id: $id) { id } }', { id: sessionGid(session) }),
    );
    expect(withoutSql(bare.statements)).toHaveLength(1);
    expect(withoutSql(bare.statements)[0]).toMatch(/NULL::jsonb AS metadata/);
    const shown = await server.db.statements.record(() =>
      server.graphql('query ($id: ID!) { session(id: $id) { id metadata } }', { id: sessionGid(session) }),
    );
    expect(shown.result.data).toEqual({ session: { id: sessionGid(session), metadata: { plan: 'pro', tags: ['vip'] } } });
    expect(withoutSql(shown.statements)).toHaveLength(1);
  });

  it('is loaded in batches where the session came from a lookup without it (node, _entities, a message)', async () => {
    const query = `query ($ids: [ID!]!, $representations: [_Any!]!) {
      nodes(ids: $ids) { ... on Session { sessionId metadata } ... on Message { session { metadata } } }
      _entities(representations: $representations) { ... on Session { metadata } }
    }`;
    const [message] = await server.db.prisma.message.findMany({ where: { sessionId: session.id } });
    const ids = [sessionGid(session), sessionGid(acme[0]!), toGlobalId('Message', message!.id), sessionGid(globexSession)];
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql(query, { ids, representations: [{ __typename: 'Session', id: sessionGid(session) }] }),
    );
    expect(result.errors).toBeUndefined();
    const metadata = { plan: 'pro', tags: ['vip'] };
    expect(result.data).toEqual({
      nodes: [{ sessionId: 'with-metadata', metadata }, { sessionId: 'acme-00', metadata: {} }, { session: { metadata } }, null],
      _entities: [{ metadata }],
    });
    // Batched, never one statement per session: the sessions of `nodes` and `_entities` together, and the message's
    // session (the same session) either joins that batch or, when its lookup answers a tick later, a second one.
    const metadataReads = withoutSql(statements).filter((sql) => /SELECT id, metadata FROM sessions/.test(sql));
    expect(metadataReads.length).toBeGreaterThanOrEqual(1);
    expect(metadataReads.length).toBeLessThanOrEqual(2);
  });
});
