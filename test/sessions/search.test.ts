// Search (issue 18): the sessions list's metadata, text, hasErrors, toolName and model filters, which the page, totalCount,
// sessionStats and usage all read through sessionListWhere, and the searchMessages connection.
import type { Message, Session } from '../../src/generated/prisma/client';
import { MAX_HIGHLIGHT_TEXT } from '../../src/sessions/message-search.type';
import { SearchMessagesDocument } from '../generated/operations';
import { at, createMessages, createSession } from '../helpers/factories';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

const COUNTS = /* GraphQL */ `
  query Counts($filter: SessionFilter, $usageFilter: UsageFilter) {
    sessions(first: 100, filter: $filter, orderBy: { field: STARTED_AT, direction: ASC }) {
      nodes {
        sessionId
      }
      totalCount
    }
    sessionStats(filter: $filter) {
      totalSessions
    }
    usage(groupBy: STATUS, filter: $usageFilter) {
      buckets {
        sessions
      }
    }
  }
`;

const SEARCH = /* GraphQL */ `
  query Search(
    $query: String!
    $filter: MessageSearchFilter
    $orderBy: MessageSearchOrder
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    searchMessages(query: $query, filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      edges {
        cursor
        node {
          message {
            id
            content
          }
          session {
            sessionId
          }
          highlight
        }
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

interface SearchData {
  searchMessages: {
    edges: { cursor: string; node: { message: { id: string; content: string }; session: { sessionId: string }; highlight: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    totalCount: number;
  };
}

const RANGE = { from: at(-10).toISOString(), to: at(10_000).toISOString() };
let server: TestServer;
let bulk: Message[];

beforeAll(async () => {
  server = await startTestServer();
  const session = (externalId: string, minute: number, data: Partial<Session>) =>
    createSession(server.db, { externalId, startedAt: at(minute), lastActivityAt: at(minute), ...data, metadata: data.metadata ?? {} });
  const s0 = await session('s0', 0, { channel: 'web', metadata: { plan: 'pro', tags: ['vip', 'beta'], region: { country: 'DE' } } });
  const s1 = await session('s1', 1, { channel: 'app', status: 'CLOSED', metadata: { plan: 'free' } });
  const s2 = await session('s2', 2, { channel: 'web', metadata: { plan: 'pro', tags: ['beta'] } });
  const s3 = await session('s3', 3, { channel: 'phone', status: 'EXPIRED' });
  await session('s4', 4, { channel: 'web', metadata: { plan: 'pro' } });
  await createMessages(server.db, s0, [
    { content: 'I want a refund for my order' },
    {
      role: 'ASSISTANT',
      content: 'Sure, processing the refund now',
      metadata: { model: 'gpt-4o', toolCalls: [{ name: 'lookup_order', status: 'success' }] },
    },
  ]);
  await createMessages(server.db, s1, [
    { content: 'Where is my parcel?' },
    { role: 'ASSISTANT', content: 'Sorry, try again', metadata: { model: 'claude-sonnet-4', errors: [{ message: 'Upstream timed out' }] } },
  ]);
  await createMessages(server.db, s2, [
    { content: 'Bonjour, je voudrais un remboursement' },
    {
      role: 'ASSISTANT',
      content: 'Un instant',
      metadata: { model: 'gpt-4o', toolCalls: [{ name: 'create_return', status: 'error', error: 'timeout' }] },
    },
  ]);
  // Metadata of the wrong shape, which Session.trace skips: not errors, no tool named "", no model "5".
  await createMessages(server.db, s3, [
    {
      content: 'refund status please',
      metadata: { errors: { message: 'not an array' }, toolCalls: [{ name: '', status: 'error' }, { name: 5 }, 'x'], model: 5 },
    },
  ]);
  const g0 = await createSession(server.db, { tenantId: 'globex', externalId: 'g0', startedAt: at(5), metadata: { plan: 'secret-plan' } });
  await createMessages(server.db, g0, [
    {
      content: 'zebracorn refund',
      metadata: { model: 'globex-model', toolCalls: [{ name: 'globex_tool', status: 'error' }], errors: [{ message: 'x' }] },
    },
  ]);
  // 23 messages of one session for paging: "invoice" 1–3 times (the rank), two messages per minute (ties in NEWEST).
  const s5 = await session('s5', 100, { channel: 'email', metadata: { bulk: true } });
  bulk = await createMessages(
    server.db,
    s5,
    Array.from({ length: 23 }, (_, index) => ({
      role: index % 2 ? ('ASSISTANT' as const) : ('USER' as const),
      content: `${'invoice '.repeat((index % 3) + 1)}number n${index}`,
      createdAt: at(200 + Math.floor(index / 2)),
    })),
  );
});

afterAll(() => server?.close());

async function countsOf(filter: Record<string, unknown>) {
  const response = await server.graphql<{
    sessions: { nodes: { sessionId: string }[]; totalCount: number };
    sessionStats: { totalSessions: number };
    usage: { buckets: { sessions: number }[] };
  }>(COUNTS, { filter, usageFilter: { ...RANGE, ...filter } });
  expect(response.errors).toBeUndefined();
  const { sessions, sessionStats, usage } = response.data!;
  return {
    ids: sessions.nodes.map((node) => node.sessionId),
    totalCount: sessions.totalCount,
    sessionStats: sessionStats.totalSessions,
    usage: usage.buckets.reduce((sum, bucket) => sum + bucket.sessions, 0),
  };
}

async function search(variables: Record<string, unknown>) {
  const response = await server.graphql<SearchData>(SEARCH, variables);
  expect(response.errors).toBeUndefined();
  return response.data!.searchMessages;
}

describe('session filters', () => {
  // Usage restricts by the filter's status/channel where given; the ranges above hold every session.
  it.each<[string, Record<string, unknown>, string[]]>([
    ['metadata, a key', { metadata: { plan: 'pro' } }, ['s0', 's2', 's4']],
    ['metadata, an array element', { metadata: { tags: ['beta'] } }, ['s0', 's2']],
    ['metadata, nested', { metadata: { region: { country: 'DE' } } }, ['s0']],
    ['metadata, empty object', { metadata: {} }, ['s0', 's1', 's2', 's3', 's4', 's5']],
    ['text, a word', { text: 'refund' }, ['s0', 's3']],
    ['text, a phrase', { text: '"processing the refund"' }, ['s0']],
    ['text, an exclusion within one message', { text: 'refund -order' }, ['s0', 's3']],
    ['text, or', { text: 'parcel or remboursement' }, ['s1', 's2']],
    ['text, words of one message, not of two', { text: 'want processing' }, []],
    ['text, a phrase within one message, not across two', { text: '"order sure"' }, []],
    ['text, an exclusion alone: a message without the word', { text: '-refund' }, ['s1', 's2', 's5']],
    ['text, case and punctuation', { text: 'PARCEL?!' }, ['s1']],
    ['text, stray syntax is no error', { text: 'refund )) ( - or' }, ['s0', 's3']],
    ['text, blank is no restriction', { text: '  ' }, ['s0', 's1', 's2', 's3', 's4', 's5']],
    ['hasErrors: true', { hasErrors: true }, ['s1', 's2']],
    ['hasErrors: false', { hasErrors: false }, ['s0', 's3', 's4', 's5']],
    ['toolName', { toolName: ['lookup_order'] }, ['s0']],
    ['toolName, any of', { toolName: ['create_return', 'lookup_order'] }, ['s0', 's2']],
    ['toolName, an empty name matches nothing', { toolName: [''] }, []],
    ['model', { model: ['gpt-4o'] }, ['s0', 's2']],
    ['model, not a number', { model: ['5'] }, []],
    ['combined with channel and hasErrors', { metadata: { plan: 'pro' }, channel: ['web'], hasErrors: false }, ['s0', 's4']],
    ['combined with status', { text: 'refund', status: ['EXPIRED'] }, ['s3']],
    ['combined: model and toolName', { model: ['gpt-4o'], toolName: ['create_return'], metadata: { tags: ['beta'] } }, ['s2']],
  ])('%s: the page, totalCount, sessionStats and usage agree', async (_name, filter, expected) => {
    expect(await countsOf(filter)).toEqual({
      ids: expected,
      totalCount: expected.length,
      sessionStats: expected.length,
      usage: expected.length,
    });
  });

  it.each<[string, Record<string, unknown>]>([
    ['a term only another tenant wrote', { text: 'zebracorn' }],
    ['a metadata value only another tenant has', { metadata: { plan: 'secret-plan' } }],
    ['a tool only another tenant called', { toolName: ['globex_tool'] }],
    ['a model only another tenant used', { model: ['globex-model'] }],
  ])('finds nothing for %s', async (_name, filter) => {
    expect(await countsOf(filter)).toEqual({ ids: [], totalCount: 0, sessionStats: 0, usage: 0 });
    const globex = await server.createKey('globex');
    const response = await server.graphql<{ sessions: { totalCount: number } }>(
      'query ($filter: SessionFilter) { sessions(filter: $filter) { totalCount } }',
      { filter },
      { apiKey: globex },
    );
    expect(response.data!.sessions.totalCount).toBe(1);
  });

  it('hasErrors and toolName read message metadata exactly as Session.trace does', async () => {
    const response = await server.graphql<{
      sessions: {
        nodes: { sessionId: string; trace: { counts: { errors: number; failedToolCalls: number }; toolCalls: { name: string }[] } }[];
      };
    }>('{ sessions(first: 100) { nodes { sessionId trace { counts { errors failedToolCalls } toolCalls { name } } } } }');
    const nodes = response.data!.sessions.nodes;
    const withErrors = nodes
      .filter((node) => node.trace.counts.errors + node.trace.counts.failedToolCalls > 0)
      .map((node) => node.sessionId);
    expect((await countsOf({ hasErrors: true })).ids.sort()).toEqual(withErrors.sort());
    for (const name of ['lookup_order', 'create_return']) {
      const calling = nodes.filter((node) => node.trace.toolCalls.some((call) => call.name === name)).map((node) => node.sessionId);
      expect((await countsOf({ toolName: [name] })).ids.sort()).toEqual(calling.sort());
    }
  });

  it('serves a filtered page with its totalCount in one statement', async () => {
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql(
        '{ sessions(first: 10, filter: { text: "refund", metadata: { plan: "pro" }, hasErrors: false, toolName: ["lookup_order"], model: ["gpt-4o"] }) { nodes { sessionId } totalCount } }',
      ),
    );
    expect(result.data).toEqual({ sessions: { nodes: [{ sessionId: 's0' }], totalCount: 1 } });
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });
});

describe('searchMessages', () => {
  const newestFirst = () =>
    [...bulk].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1)).map((row) => row.id);
  const bestFirst = () =>
    [...bulk]
      .sort((a, b) => b.content.split('invoice').length - a.content.split('invoice').length || (a.id < b.id ? 1 : -1))
      .map((row) => row.id);
  const databaseId = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':').slice(1).join(':');

  it.each([
    ['NEWEST', newestFirst],
    ['RELEVANCE', bestFirst],
  ])('pages %s forward and backward without gaps or duplicates', async (orderBy, expected) => {
    const base = { query: 'invoice', orderBy, filter: { sessionMetadata: { bulk: true } } };
    const forward: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: SearchData['searchMessages'] = await search({ ...base, first: 5, after });
      expect(page.totalCount).toBe(23);
      forward.push(...page.edges.map((edge) => edge.node.message.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    const backward: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: SearchData['searchMessages'] = await search({ ...base, last: 5, before });
      backward.unshift(...page.edges.map((edge) => edge.node.message.id));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    const ids = expected();
    expect(forward.map(databaseId)).toEqual(ids);
    expect(backward.map(databaseId)).toEqual(ids);
  });

  it("marks the matched words in HTML-escaped, bounded fragments, and names each hit's session", async () => {
    const session = await createSession(server.db, { externalId: 'html', startedAt: at(300), metadata: { html: true } });
    await createMessages(server.db, session, [
      { content: `<script>alert("x")</script> carrot \u0002 & Jerry's <b>cake</b>` },
      { content: `${'filler '.repeat(400)}carrot ${'word '.repeat(400)}carrot end` },
    ]);
    const page = await search({ query: 'carrot', filter: { sessionMetadata: { html: true } }, orderBy: 'NEWEST' });
    expect(page.edges.map((edge) => edge.node.session.sessionId)).toEqual(['html', 'html']);
    const [long, short] = page.edges.map((edge) => edge.node.highlight);
    expect(short).toContain('<mark>carrot</mark>');
    expect(short).toContain('&amp; Jerry&#39;s');
    expect(short).not.toContain('\u0002');
    expect(short!.replace(/<\/?mark>/g, '')).not.toMatch(/[<>"]/);
    expect(long).toContain('<mark>carrot</mark>');
    const text = long!.replace(/<\/?mark>/g, '').replace(/&[a-z0-9#]+;/g, '_');
    expect(text.length).toBeLessThanOrEqual(MAX_HIGHLIGHT_TEXT + 1);
    expect(long!.match(/<mark>/g)?.length).toBe(long!.match(/<\/mark>/g)?.length);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['no filter', {}, ['I want a refund for my order', 'Sure, processing the refund now', 'refund status please']],
    ['role', { role: ['ASSISTANT'] }, ['Sure, processing the refund now']],
    ['channel', { channel: ['phone'] }, ['refund status please']],
    ['session status', { sessionStatus: ['ACTIVE'] }, ['I want a refund for my order', 'Sure, processing the refund now']],
    [
      'time range',
      { createdAfter: at(2).toISOString(), createdBefore: at(10).toISOString() },
      ['Sure, processing the refund now', 'refund status please'],
    ],
    ['session metadata', { sessionMetadata: { tags: ['vip'] } }, ['I want a refund for my order', 'Sure, processing the refund now']],
    [
      'combined',
      { role: ['USER'], channel: ['web', 'phone'], sessionMetadata: {} },
      ['I want a refund for my order', 'refund status please'],
    ],
  ])('filters by %s, within the tenant', async (_name, filter, contents) => {
    const page = await search({ query: 'refund', filter });
    expect(page.edges.map((edge) => edge.node.message.content).sort()).toEqual([...contents].sort());
    expect(page.totalCount).toBe(contents.length);
  });

  it('finds nothing that only another tenant wrote, in either order', async () => {
    for (const orderBy of ['NEWEST', 'RELEVANCE']) {
      const page = await search({ query: 'zebracorn', orderBy });
      expect(page).toMatchObject({ edges: [], totalCount: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false } });
    }
    const globex = await server.createKey('globex');
    const response = await server.graphql<SearchData>(SEARCH, { query: 'refund' }, { apiKey: globex });
    expect(response.data!.searchMessages.edges.map((edge) => edge.node.message.content)).toEqual(['zebracorn refund']);
  });

  it("answers the dashboard's search operation", async () => {
    const response = await server.graphql(SearchMessagesDocument, { query: 'processing refund', orderBy: 'RELEVANCE', first: 5 });
    expect(response.errors).toBeUndefined();
    expect(response.data!.searchMessages).toMatchObject({
      totalCount: 1,
      edges: [
        {
          node: {
            highlight: 'Sure, <mark>processing</mark> the <mark>refund</mark> now',
            message: { role: 'ASSISTANT' },
            session: { sessionId: 's0', channel: 'web', status: 'ACTIVE' },
          },
        },
      ],
    });
  });

  it('costs one statement per page, plus one for all the sessions of the page', async () => {
    for (const orderBy of ['NEWEST', 'RELEVANCE']) {
      const { result, statements } = await server.db.statements.record(() =>
        server.graphql<SearchData>(SEARCH, { query: 'invoice', orderBy, first: 10 }),
      );
      expect(result.data!.searchMessages.edges).toHaveLength(10);
      expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(2);
    }
  });

  it('costs the same on later pages, backwards, filtered by session metadata, with totalCount', async () => {
    for (const orderBy of ['NEWEST', 'RELEVANCE']) {
      const first = await server.graphql<SearchData>(SEARCH, { query: 'invoice', orderBy, first: 5 });
      const cursor = first.data!.searchMessages.pageInfo.endCursor;
      for (const variables of [
        { first: 5, after: cursor },
        { last: 5, before: cursor },
        { first: 5, after: cursor, filter: { sessionMetadata: {}, role: ['USER', 'ASSISTANT'] } },
      ]) {
        const { result, statements } = await server.db.statements.record(() =>
          server.graphql<SearchData>(SEARCH, { query: 'invoice', orderBy, ...variables }),
        );
        expect(result.errors).toBeUndefined();
        expect(result.data!.searchMessages.edges.length).toBeGreaterThan(0);
        expect(result.data!.searchMessages.totalCount).toBeGreaterThan(5);
        // The page and its total in one statement, the hits' sessions in one batch.
        expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(2);
      }
    }
  });
});

describe('bad input', () => {
  const deep = { a: { b: { c: { d: { e: { f: 1 } } } } } };
  const large = { text: 'x'.repeat(4100) };
  const long = 'word '.repeat(101);
  const UUID = '00000000-0000-4000-8000-000000000000';
  const rankCursor = (rank: unknown) => Buffer.from(JSON.stringify(['MessageSearch:RELEVANCE', rank, UUID])).toString('base64url');

  it.each<[string, string, Record<string, unknown>, string]>([
    [
      'sessions metadata nested deeper than 5 levels',
      'query ($f: SessionFilter) { sessions(filter: $f) { totalCount } }',
      { f: { metadata: deep } },
      'filter.metadata',
    ],
    [
      'sessions metadata over 4 KB',
      'query ($f: SessionFilter) { sessions(filter: $f) { totalCount } }',
      { f: { metadata: large } },
      'filter.metadata',
    ],
    [
      'sessions text over 500 characters',
      'query ($f: SessionFilter) { sessions(filter: $f) { totalCount } }',
      { f: { text: long } },
      'filter.text',
    ],
    [
      'sessionStats metadata too deep',
      'query ($f: SessionFilter) { sessionStats(filter: $f) { totalSessions } }',
      { f: { metadata: deep } },
      'filter.metadata',
    ],
    ['usage text too long', 'query ($f: UsageFilter) { usage(groupBy: DAY, filter: $f) { from } }', { f: { text: long } }, 'filter.text'],
    [
      'usage metadata too large',
      'query ($f: UsageFilter) { usage(groupBy: DAY, filter: $f) { from } }',
      { f: { metadata: large } },
      'filter.metadata',
    ],
    ['search query over 500 characters', 'query ($q: String!) { searchMessages(query: $q) { totalCount } }', { q: long }, 'query'],
    ['a blank search query', 'query ($q: String!) { searchMessages(query: $q) { totalCount } }', { q: ' ' }, 'query'],
    [
      'search session metadata too deep',
      'query ($f: MessageSearchFilter) { searchMessages(query: "x", filter: $f) { totalCount } }',
      { f: { sessionMetadata: deep } },
      'filter.sessionMetadata',
    ],
    [
      'search session metadata over 4 KB',
      'query ($f: MessageSearchFilter) { searchMessages(query: "x", filter: $f) { totalCount } }',
      { f: { sessionMetadata: large } },
      'filter.sessionMetadata',
    ],
    [
      'search time range min > max',
      'query ($f: MessageSearchFilter) { searchMessages(query: "x", filter: $f) { totalCount } }',
      { f: { createdAfter: at(5).toISOString(), createdBefore: at(1).toISOString() } },
      'filter.createdAfter',
    ],
    [
      'sessions time range min > max',
      'query ($f: SessionFilter) { sessions(filter: $f, first: 1) { totalCount } }',
      { f: { startedAfter: at(5).toISOString(), startedBefore: at(5).toISOString(), metadata: { a: 1 } } },
      'filter.startedAfter',
    ],
    [
      'a forged rank in a cursor',
      'query ($c: String) { searchMessages(query: "x", orderBy: RELEVANCE, after: $c) { totalCount } }',
      { c: rankCursor('1; DROP') },
      'after',
    ],
    [
      'a number as rank in a cursor',
      'query ($c: String) { searchMessages(query: "x", orderBy: RELEVANCE, after: $c) { totalCount } }',
      { c: rankCursor('NaN') },
      'after',
    ],
    [
      'a NEWEST cursor for RELEVANCE',
      'query ($c: String) { searchMessages(query: "x", orderBy: RELEVANCE, before: $c) { totalCount } }',
      { c: Buffer.from(JSON.stringify(['MessageSearch:NEWEST', at(0).toISOString(), UUID])).toString('base64url') },
      'before',
    ],
  ])('%s: BAD_USER_INPUT naming the field, before any SQL', async (_name, query, variables, argument) => {
    const { result, statements } = await server.db.statements.record(() => server.graphql(query, variables));
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(result.errors?.[0]?.message).not.toMatch(/SELECT|prisma|at .*\.ts/);
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toEqual([]);
  });

  it.each<[string, string, Record<string, unknown>, string]>([
    [
      'metadata that is not an object',
      'query ($f: SessionFilter) { sessions(filter: $f) { totalCount } }',
      { f: { metadata: 5 } },
      'filter.metadata',
    ],
    [
      'metadata that is an array',
      'query ($f: SessionFilter) { sessions(filter: $f) { totalCount } }',
      { f: { metadata: [{ plan: 'pro' }] } },
      'filter.metadata',
    ],
    [
      'sessionStats metadata that is a string',
      'query ($f: SessionFilter) { sessionStats(filter: $f) { totalSessions } }',
      { f: { metadata: 'pro' } },
      'filter.metadata',
    ],
    [
      'usage metadata that is an array',
      'query ($f: UsageFilter) { usage(groupBy: DAY, filter: $f) { from } }',
      { f: { metadata: [1] } },
      'filter.metadata',
    ],
    [
      'an unknown sessions order',
      'query ($o: SessionOrder) { sessions(orderBy: $o) { totalCount } }',
      { o: { field: 'PRICE', direction: 'ASC' } },
      'orderBy.field',
    ],
    [
      'search metadata that is a string',
      'query ($f: MessageSearchFilter) { searchMessages(query: "x", filter: $f) { totalCount } }',
      { f: { sessionMetadata: 'x' } },
      'filter.sessionMetadata',
    ],
    [
      'search metadata that is a number',
      'query ($f: MessageSearchFilter) { searchMessages(query: "x", filter: $f) { totalCount } }',
      { f: { sessionMetadata: 5 } },
      'filter.sessionMetadata',
    ],
    [
      'search metadata that is an array, in an object literal',
      'query ($m: JSONObject) { searchMessages(query: "x", filter: { sessionMetadata: $m }) { totalCount } }',
      { m: [{ plan: 'pro' }] },
      'filter.sessionMetadata',
    ],
    [
      'an unknown order',
      'query ($o: MessageSearchOrder) { searchMessages(query: "x", orderBy: $o) { totalCount } }',
      { o: 'BEST' },
      'orderBy',
    ],
  ])('%s: BAD_USER_INPUT from the variable coercion, with the argument path, before any SQL', async (_name, query, variables, argument) => {
    const { result, statements } = await server.db.statements.record(() => server.graphql(query, variables));
    const error = (result as GraphQLResponse).errors?.[0];
    expect(result.errors).toHaveLength(1);
    expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    // GraphQL's coercion names the variable and the path within it, e.g. `Variable "$f" got invalid value 5 at "f.metadata"`.
    expect(error?.message).toMatch(/^Variable "\$[a-z]" got invalid value /);
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toEqual([]);
  });
});

describe('the stored document (docs/decisions/0016)', () => {
  const TEXT = `query ($q: String!, $text: String) {
    sessions(first: 10, filter: { text: $text }) { totalCount nodes { sessionId } }
    searchMessages(query: $q) { totalCount edges { node { message { content } session { sessionId } } } }
  }`;
  interface TextData {
    sessions: { totalCount: number; nodes: { sessionId: string }[] };
    searchMessages: { totalCount: number; edges: { node: { message: { content: string }; session: { sessionId: string } } }[] };
  }

  it('follows a message whose content is changed (the trigger refills it)', async () => {
    const own = await startTestServer();
    try {
      const session = await createSession(own.db, { externalId: 'edited', startedAt: at(0), lastActivityAt: at(0) });
      const [message] = await createMessages(own.db, session, [{ content: 'original wording' }]);
      await own.db.prisma.$executeRaw`UPDATE messages SET content = 'rewritten wording' WHERE id = ${message!.id}::uuid`;
      const before = await own.graphql<TextData>(TEXT, { q: 'original', text: 'original' });
      expect(before.data).toEqual({ sessions: { totalCount: 0, nodes: [] }, searchMessages: { totalCount: 0, edges: [] } });
      const after = await own.graphql<TextData>(TEXT, { q: 'rewritten', text: 'rewritten' });
      expect(after.data!.sessions).toEqual({ totalCount: 1, nodes: [{ sessionId: 'edited' }] });
      expect(after.data!.searchMessages.edges).toEqual([
        { node: { message: { content: 'rewritten wording' }, session: { sessionId: 'edited' } } },
      ]);
    } finally {
      await own.close();
    }
  });

  it('another TEXT_SEARCH_CONFIG searches the content in that configuration, tenant-scoped', async () => {
    const english = await startTestServer({ TEXT_SEARCH_CONFIG: 'english' });
    try {
      const session = await createSession(english.db, { externalId: 'stemmed', startedAt: at(0), lastActivityAt: at(0) });
      await createMessages(english.db, session, [{ content: 'I asked for refunds twice' }]);
      const foreign = await createSession(english.db, { tenantId: 'globex', externalId: 'foreign', startedAt: at(1) });
      await createMessages(english.db, foreign, [{ content: 'Globex refunds everything' }]);
      // `english` stems: "refund" finds "refunds", which the stored `simple` document would not.
      const { data } = await english.graphql<TextData>(TEXT, { q: 'refund', text: 'refund' });
      expect(data!.sessions).toEqual({ totalCount: 1, nodes: [{ sessionId: 'stemmed' }] });
      expect(data!.searchMessages).toEqual({
        totalCount: 1,
        edges: [{ node: { message: { content: 'I asked for refunds twice' }, session: { sessionId: 'stemmed' } } }],
      });
    } finally {
      await english.close();
    }
  });

  it('the default configuration matches words as written: "refund" does not find "refunds"', async () => {
    const { data } = await server.graphql<TextData>(TEXT, { q: 'refunds', text: 'refunds' });
    expect(data!.sessions.totalCount).toBe(0);
    expect(data!.searchMessages.totalCount).toBe(0);
  });
});

describe('the session document (docs/decisions/0019)', () => {
  const SESSIONS = `query ($text: String) { sessions(first: 10, filter: { text: $text }) { totalCount nodes { sessionId } } }`;
  const found = async (target: TestServer, text: string) => {
    const response = await target.graphql<{ sessions: { totalCount: number; nodes: { sessionId: string }[] } }>(SESSIONS, { text });
    expect(response.errors).toBeUndefined();
    expect(response.data!.sessions.totalCount).toBe(response.data!.sessions.nodes.length);
    return response.data!.sessions.nodes.map((node) => node.sessionId);
  };

  it('follows messages deleted, edited, moved to another session and truncated', async () => {
    const own = await startTestServer();
    try {
      const first = await createSession(own.db, { externalId: 'first', startedAt: at(0), lastActivityAt: at(0) });
      const second = await createSession(own.db, { externalId: 'second', startedAt: at(1), lastActivityAt: at(1) });
      const [alpha, beta] = await createMessages(own.db, first, [{ content: 'alpha one' }, { content: 'beta two' }]);
      expect(await found(own, 'alpha')).toEqual(['first']);
      await own.db.prisma.$executeRaw`DELETE FROM messages WHERE id = ${alpha!.id}::uuid`;
      expect(await found(own, 'alpha')).toEqual([]);
      expect(await found(own, 'beta')).toEqual(['first']);
      await own.db.prisma.$executeRaw`UPDATE messages SET content = 'gamma two' WHERE id = ${beta!.id}::uuid`;
      expect(await found(own, 'beta')).toEqual([]);
      expect(await found(own, 'gamma')).toEqual(['first']);
      await own.db.prisma.$executeRaw`UPDATE messages SET session_id = ${second.id}::uuid WHERE id = ${beta!.id}::uuid`;
      expect(await found(own, 'gamma')).toEqual(['second']);
      expect(await found(own, 'two')).toEqual(['second']);
      await own.db.prisma.$executeRaw`TRUNCATE messages`;
      expect(await found(own, 'two')).toEqual([]);
      expect(await own.db.prisma.$queryRaw`SELECT count(*)::int AS documents FROM session_search_documents`).toEqual([{ documents: 0 }]);
    } finally {
      await own.close();
    }
  });

  it('finds messages appended through the API at once, and never those of another tenant', async () => {
    const own = await startTestServer();
    try {
      const session = await createSession(own.db, { externalId: 'live', startedAt: at(0), lastActivityAt: at(0) });
      const foreign = await createSession(own.db, { tenantId: 'globex', externalId: 'foreign', startedAt: at(1) });
      await createMessages(own.db, foreign, [{ content: 'globexonly quokka' }]);
      const response = await own.graphql<{ appendMessages: { appendedCount: number } }>(
        `mutation ($input: AppendMessagesInput!) { appendMessages(input: $input) { appendedCount } }`,
        { input: { sessionId: session.externalId, messages: [{ clientMessageId: 'c1', role: 'USER', content: 'my quokka escaped' }] } },
      );
      expect(response.data).toEqual({ appendMessages: { appendedCount: 1 } });
      expect(await found(own, 'quokka')).toEqual(['live']);
      expect(await found(own, 'globexonly')).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('a session whose words pass the bound is still found, through its messages', async () => {
    const own = await startTestServer();
    try {
      const big = await createSession(own.db, { externalId: 'big', startedAt: at(0), lastActivityAt: at(0) });
      const small = await createSession(own.db, { externalId: 'small', startedAt: at(1), lastActivityAt: at(1) });
      // 15,000 distinct words of 7–11 characters, about 200 kB of lexemes: the first half fits in the 128 kB bound, the
      // second, appended in a statement of its own, passes it.
      const words = Array.from({ length: 15_000 }, (_, index) => `lexeme${index}`);
      const documentOfBig = async () =>
        (
          await own.db.prisma.$queryRaw<{ overflow: boolean; document: string }[]>`
            SELECT overflow, document::text AS document FROM session_search_documents WHERE session_id = ${big.id}::uuid`
        )[0];
      await createMessages(own.db, big, [{ content: words.slice(0, 7_500).join(' ') }]);
      expect((await documentOfBig())!.overflow).toBe(false);
      await createMessages(own.db, big, [{ content: words.slice(7_500).join(' ') }]);
      expect(await documentOfBig()).toEqual({ overflow: true, document: "'convoql overflow'" });
      await createMessages(own.db, small, [{ content: 'lexeme7 and lexeme9000 together' }]);
      await createMessages(own.db, big, [{ content: 'appended afterwards' }]);
      expect(await found(own, 'afterwards')).toEqual(['big']);
      expect(await found(own, 'lexeme14999')).toEqual(['big']);
      expect(await found(own, 'lexeme7 or nothing')).toEqual(['small', 'big']);
      expect(await found(own, 'lexeme7 lexeme9000')).toEqual(['small']);
      expect(await found(own, '"lexeme2 lexeme3"')).toEqual(['big']);
      expect(await found(own, 'convoql overflow')).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
