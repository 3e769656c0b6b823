// SEARCH_COUNT_LIMIT (docs/decisions/0016): searchMessages counts at most that many matches (totalCountIsExact says
// whether it stopped) and RELEVANCE ranks the newest that many, keyset-paged; NEWEST still pages through every match.
import type { Message } from '../../src/generated/prisma/client';
import { at, createMessages, createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const LIMIT = 5;

const SEARCH = /* GraphQL */ `
  query Search($query: String!, $orderBy: MessageSearchOrder, $first: Int, $after: String, $last: Int, $before: String) {
    searchMessages(query: $query, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      edges {
        node {
          message {
            id
          }
          session {
            sessionId
          }
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      totalCount
      totalCountIsExact
    }
  }
`;

interface SearchPage {
  edges: { node: { message: { id: string }; session: { sessionId: string } } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
  totalCountIsExact: boolean;
}

let server: TestServer;
let globexKey: string;
/** acme's nine "invoice" messages, oldest first: the oldest holds the word most often, so it would rank best. */
let invoices: Message[];
let globexInvoices: Message[];

beforeAll(async () => {
  server = await startTestServer({ SEARCH_COUNT_LIMIT: String(LIMIT) });
  globexKey = await server.createKey('globex');
  const session = await createSession(server.db, { externalId: 'cap', startedAt: at(0), lastActivityAt: at(0) });
  invoices = await createMessages(server.db, session, [
    { content: 'invoice invoice invoice invoice old', createdAt: at(1) },
    // "invoice" 1, 2, 3, 1, 2, 3, 1, 2 times: the rank; equal ranks are ordered by id.
    ...Array.from({ length: 8 }, (_, index) => ({ content: `${'invoice '.repeat((index % 3) + 1)}n${index}`, createdAt: at(10 + index) })),
  ]);
  // Exactly LIMIT messages with "pear", fewer with "plum".
  await createMessages(
    server.db,
    session,
    Array.from({ length: LIMIT }, (_, index) => ({ content: `pear ${index}${index < 3 ? ' plum' : ''}`, createdAt: at(30 + index) })),
  );
  // Another tenant's matches, all newer than acme's: they must neither count for acme nor push acme's out of its window.
  const foreign = await createSession(server.db, { tenantId: 'globex', externalId: 'foreign', startedAt: at(50), lastActivityAt: at(50) });
  globexInvoices = await createMessages(
    server.db,
    foreign,
    Array.from({ length: 8 }, (_, index) => ({ content: `invoice zebracorn g${index}`, createdAt: at(60 + index) })),
  );
});

afterAll(() => server?.close());

async function search(variables: Record<string, unknown>, apiKey?: string): Promise<SearchPage> {
  const response = await server.graphql<{ searchMessages: SearchPage }>(SEARCH, variables, apiKey ? { apiKey } : {});
  expect(response.errors).toBeUndefined();
  return response.data!.searchMessages;
}

const databaseId = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':').slice(1).join(':');
const idsOf = (page: SearchPage) => page.edges.map((edge) => databaseId(edge.node.message.id));

/** Every hit of a search, paged forward (`first`) or backward (`last`) by `size`, in list order. */
async function pageThrough(variables: Record<string, unknown>, direction: 'forward' | 'backward', size: number, apiKey?: string) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const page: SearchPage =
      direction === 'forward'
        ? await search({ ...variables, first: size, after: cursor }, apiKey)
        : await search({ ...variables, last: size, before: cursor }, apiKey);
    if (direction === 'forward') ids.push(...idsOf(page));
    else ids.unshift(...idsOf(page));
    const more = direction === 'forward' ? page.pageInfo.hasNextPage : page.pageInfo.hasPreviousPage;
    if (!more) return ids;
    cursor = direction === 'forward' ? page.pageInfo.endCursor : page.pageInfo.startCursor;
  }
  throw new Error('paging did not end');
}

/** The newest LIMIT of `messages`, best first: most "invoice"s, then the higher id. */
function bestOfNewest(messages: readonly Message[]): string[] {
  const occurrences = (message: Message) => message.content.split('invoice').length;
  return [...messages]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
    .slice(0, LIMIT)
    .sort((a, b) => occurrences(b) - occurrences(a) || (a.id < b.id ? 1 : -1))
    .map((message) => message.id);
}

describe('totalCount stops at SEARCH_COUNT_LIMIT', () => {
  it.each(['NEWEST', 'RELEVANCE'])('%s: more matches than the limit count as the limit, not exact', async (orderBy) => {
    const page = await search({ query: 'invoice', orderBy, first: 2 });
    expect(page).toMatchObject({ totalCount: LIMIT, totalCountIsExact: false });
    expect(page.edges).toHaveLength(2);
  });

  it.each(['NEWEST', 'RELEVANCE'])('%s: as many matches as the limit, or fewer, count exactly', async (orderBy) => {
    expect(await search({ query: 'pear', orderBy })).toMatchObject({ totalCount: LIMIT, totalCountIsExact: true });
    expect(await search({ query: 'plum', orderBy })).toMatchObject({ totalCount: 3, totalCountIsExact: true });
    expect(await search({ query: 'pear -plum', orderBy })).toMatchObject({ totalCount: 2, totalCountIsExact: true });
  });

  it('answers totalCountIsExact alone, with the page in one statement', async () => {
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql<{ searchMessages: { totalCountIsExact: boolean } }>(`{ searchMessages(query: "invoice") { totalCountIsExact } }`),
    );
    expect(result.data).toEqual({ searchMessages: { totalCountIsExact: false } });
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });

  it.each(['NEWEST', 'RELEVANCE'])('%s: page, count and the hits’ sessions in two statements', async (orderBy) => {
    const { result, statements } = await server.db.statements.record(() => search({ query: 'invoice', orderBy, first: 3 }));
    expect(result.edges).toHaveLength(3);
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(2);
  });
});

describe('RELEVANCE ranks the newest SEARCH_COUNT_LIMIT matches', () => {
  it.each([1, 2, 3])('pages by %i forward and backward over that window: best first, no repeats, no gaps', async (size) => {
    const expected = bestOfNewest(invoices);
    const forward = await pageThrough({ query: 'invoice', orderBy: 'RELEVANCE' }, 'forward', size);
    const backward = await pageThrough({ query: 'invoice', orderBy: 'RELEVANCE' }, 'backward', size);
    expect(forward).toEqual(expected);
    expect(backward).toEqual(expected);
    // The oldest match would rank best, but it is outside the newest LIMIT.
    expect(forward).not.toContain(invoices[0]!.id);
  });

  it('leaves NEWEST paging through every match, past the count limit', async () => {
    const newestFirst = [...invoices].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map((message) => message.id);
    expect(await pageThrough({ query: 'invoice', orderBy: 'NEWEST' }, 'forward', 4)).toEqual(newestFirst);
  });

  it("counts and ranks each tenant's own matches only", async () => {
    // globex's newer matches neither fill acme's window nor its count, and acme's are silent to globex.
    expect(await search({ query: 'zebracorn', orderBy: 'RELEVANCE' })).toMatchObject({ edges: [], totalCount: 0, totalCountIsExact: true });
    expect(await search({ query: 'pear', orderBy: 'RELEVANCE' }, globexKey)).toMatchObject({
      edges: [],
      totalCount: 0,
      totalCountIsExact: true,
    });
    const globex = await pageThrough({ query: 'invoice', orderBy: 'RELEVANCE' }, 'forward', 2, globexKey);
    expect(globex).toEqual(bestOfNewest(globexInvoices));
    const page = await search({ query: 'invoice', orderBy: 'RELEVANCE', first: LIMIT });
    expect(idsOf(page)).toEqual(bestOfNewest(invoices));
    expect(page.edges.every((edge) => edge.node.session.sessionId === 'cap')).toBe(true);
  });
});

describe('bad input is refused as without a limit', () => {
  const UUID = '00000000-0000-4000-8000-000000000000';
  const cursor = (list: string, value: unknown) => Buffer.from(JSON.stringify([list, value, UUID])).toString('base64url');

  it.each<[string, Record<string, unknown>, string]>([
    ['a blank query', { query: '  ', orderBy: 'RELEVANCE' }, 'query'],
    ['a forged rank', { query: 'invoice', orderBy: 'RELEVANCE', after: cursor('MessageSearch:RELEVANCE', '1 OR 1') }, 'after'],
    [
      'a NEWEST cursor for RELEVANCE',
      { query: 'invoice', orderBy: 'RELEVANCE', after: cursor('MessageSearch:NEWEST', at(0).toISOString()) },
      'after',
    ],
    ['a RELEVANCE cursor for NEWEST', { query: 'invoice', orderBy: 'NEWEST', before: cursor('MessageSearch:RELEVANCE', '0.1') }, 'before'],
    ['a page over 100', { query: 'invoice', orderBy: 'RELEVANCE', first: 101 }, 'first'],
  ])('%s: BAD_USER_INPUT naming the argument, before any SQL', async (_name, variables, argument) => {
    const { result, statements } = await server.db.statements.record(() => server.graphql(SEARCH, variables));
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toEqual([]);
  });
});
