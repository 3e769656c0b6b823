import type { Conversation } from '../../src/generated/prisma/client';
import { Prisma } from '../../src/db/client';
import { createConversations } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const CONVERSATIONS = /* GraphQL */ `
  query SearchConversations(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $filter: ConversationFilter
    $orderBy: ConversationOrder
  ) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      nodes {
        threadId
        metadata
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

interface Page {
  nodes: { threadId: string; metadata: Record<string, unknown> }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

/** Costs that differ in the 8th decimal (the same double would hold several), ties included. */
const COSTS = ['0.10000001', '0.10000002', '0.10000002', '0', '12345678.12345678', '0.10000003', '3.5', '0.00000001'];

let server: TestServer;
let globexKey: string;
let acme: Conversation[];

/** Search steps as the sync writes them, from messages given as test data. */
async function addMessages(conversation: Conversation, messages: [type: string, content: string][]): Promise<void> {
  for (const [ordinal, [type, content]] of messages.entries()) {
    await server.db.prisma.$executeRaw`
      INSERT INTO conversation_search_steps (conversation_id, checkpoint_id, ordinal, type, content, tsv)
      VALUES (${conversation.id}::uuid, 'cp-1', ${ordinal + 1}, ${type}, ${content}, to_tsvector('simple', ${content}))`;
  }
}

beforeAll(async () => {
  server = await startTestServer();
  globexKey = await server.createKey('globex');
  acme = await createConversations(server.db, 24, (index) => ({
    threadId: `t${String(index).padStart(2, '0')}`,
    costUsd: new Prisma.Decimal(COSTS[index % COSTS.length]!),
    inputTokens: BigInt(100 * (index % 6)),
    outputTokens: BigInt(10 * (index % 4)),
    totalTokens: BigInt(100 * (index % 6) + 10 * (index % 4)),
    stepCount: index % 5,
    metadata:
      index % 3 === 0
        ? { plan: 'pro', customer: { region: 'eu', tags: ['vip', 'beta'] }, source_app: 'web' }
        : { plan: 'free', customer: { region: 'us', tags: ['beta'] } },
    models: index % 2 === 0 ? ['gpt-4o'] : ['claude-sonnet-4', 'gpt-4o-mini'],
    toolNames: index % 4 === 0 ? ['get_weather', 'search_docs'] : [],
  }));
  for (const [index, conversation] of acme.entries()) {
    await addMessages(
      conversation,
      index % 4 === 0
        ? [
            ['USER_MESSAGE', `I want a refund for order ${index}`],
            ['ASSISTANT_MESSAGE', 'The refund was approved.'],
          ]
        : [
            ['USER_MESSAGE', 'Where is my parcel?'],
            ['ASSISTANT_MESSAGE', 'It ships tomorrow.'],
          ],
    );
  }
  const [foreign] = await createConversations(server.db, 1, () => ({
    tenantId: 'globex',
    threadId: 'globex-thread',
    costUsd: new Prisma.Decimal('0.10000002'),
    metadata: { plan: 'globex-only' },
    models: ['globex-model'],
    toolNames: ['globex_tool'],
  }));
  await addMessages(foreign!, [['USER_MESSAGE', 'Zanzibar shipment refund']]);
});
afterAll(() => server?.close());

async function conversations(variables: Record<string, unknown>, apiKey?: string): Promise<Page> {
  const response = await server.graphql<{ conversations: Page }>(CONVERSATIONS, variables, apiKey ? { apiKey } : {});
  expect(response.errors).toBeUndefined();
  return response.data!.conversations;
}

/** Thread ids of every page, walking forward with `first` and then backward with `last`. */
async function walk(variables: Record<string, unknown>, size: number): Promise<{ forward: string[]; backward: string[] }> {
  const forward: string[] = [];
  let after: string | null = null;
  do {
    const page: Page = await conversations({ ...variables, first: size, after });
    forward.push(...page.nodes.map((node) => node.threadId));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  const backward: string[] = [];
  let before: string | null = null;
  do {
    const page: Page = await conversations({ ...variables, last: size, before });
    backward.unshift(...page.nodes.map((node) => node.threadId));
    before = page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor : null;
  } while (before);
  return { forward, backward };
}

/** The acme threads matching `keep`, in (value, id) order as PostgreSQL sorts them (UUIDs compare as lower-case hex). */
function expected(
  keep: (row: Conversation, index: number) => boolean,
  valueOf?: (row: Conversation) => Prisma.Decimal,
  descending = false,
) {
  const rows = acme.filter(keep);
  if (valueOf) {
    rows.sort((a, b) => valueOf(a).comparedTo(valueOf(b)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (descending) rows.reverse();
  }
  return rows.map((row) => row.threadId);
}

async function threadIds(filter: Record<string, unknown>, apiKey?: string): Promise<{ ids: string[]; total: number }> {
  const page = await conversations({ first: 100, filter }, apiKey);
  return { ids: page.nodes.map((node) => node.threadId).sort(), total: page.totalCount };
}

describe('ConversationFilter', () => {
  it('filters by metadata containment, nested objects and arrays included, and exposes the metadata', async () => {
    const pro = expected((_, index) => index % 3 === 0);
    expect(await threadIds({ metadata: { plan: 'pro' } })).toEqual({ ids: pro, total: pro.length });
    expect((await threadIds({ metadata: { customer: { tags: ['vip'] } } })).ids).toEqual(pro);
    expect((await threadIds({ metadata: { customer: { tags: ['beta'] } } })).total).toBe(24);
    expect((await threadIds({ metadata: { customer: { region: 'eu', tags: ['nope'] } } })).total).toBe(0);
    expect((await threadIds({ metadata: {} })).total).toBe(24);
    const page = await conversations({ first: 1, filter: { metadata: { plan: 'pro' } } });
    expect(page.nodes[0]!.metadata).toEqual({ plan: 'pro', customer: { region: 'eu', tags: ['vip', 'beta'] }, source_app: 'web' });
  });

  it('filters by message text in web-search syntax, never failing on the syntax', async () => {
    const refunds = expected((_, index) => index % 4 === 0);
    expect(await threadIds({ text: 'refund' })).toEqual({ ids: refunds, total: refunds.length });
    expect((await threadIds({ text: 'REFUND approved' })).ids).toEqual(refunds);
    expect((await threadIds({ text: '"refund was approved"' })).ids).toEqual(refunds);
    expect((await threadIds({ text: '"approved refund"' })).total).toBe(0);
    expect((await threadIds({ text: 'parcel or refund' })).total).toBe(24);
    // Each message is matched on its own: an exclusion removes the messages holding the word, not the thread.
    expect((await threadIds({ text: 'ships -tomorrow' })).total).toBe(0);
    expect((await threadIds({ text: 'parcel -tomorrow' })).total).toBe(18);
    expect((await threadIds({ text: 'order 8' })).ids).toEqual(['t08']);
    for (const odd of ['"refund', 'refund & | ! ( :*', '!!!', '-', 'or']) {
      expect((await threadIds({ text: odd })).total).toBeLessThanOrEqual(24);
    }
    expect((await threadIds({ text: '   ' })).total).toBe(24);
  });

  it('filters by models and tools used (any of the listed), and by cost and token ranges (inclusive)', async () => {
    expect((await threadIds({ model: ['claude-sonnet-4'] })).ids).toEqual(expected((_, index) => index % 2 === 1));
    expect((await threadIds({ model: ['gpt-4o', 'gpt-4o-mini'] })).total).toBe(24);
    expect((await threadIds({ model: [] })).total).toBe(24);
    expect((await threadIds({ toolName: ['search_docs', 'nope'] })).ids).toEqual(expected((_, index) => index % 4 === 0));
    const costly = expected((row) => row.costUsd.gte('0.10000002') && row.costUsd.lte('3.5'));
    expect(await threadIds({ costUsd: { min: '0.10000002', max: '3.5' } })).toEqual({ ids: costly, total: costly.length });
    expect((await threadIds({ costUsd: { min: '0.10000002', max: '0.10000002' } })).total).toBe(6);
    expect((await threadIds({ costUsd: { max: '0' } })).total).toBe(3);
    const tokens = expected((row) => row.totalTokens >= 110n && row.totalTokens <= 300n);
    expect(await threadIds({ totalTokens: { min: 110, max: 300 } })).toEqual({ ids: tokens, total: tokens.length });
  });

  it('combines the new filters with each other and with the existing ones, in the page and totalCount alike', async () => {
    const filter = { metadata: { plan: 'pro' }, text: 'refund', model: ['gpt-4o'], toolName: ['get_weather'], costUsd: { min: '0' } };
    const both = expected((_, index) => index % 12 === 0);
    expect(await threadIds(filter)).toEqual({ ids: both, total: both.length });
    const later = { ...filter, createdAfter: acme[1]!.createdAt.toISOString(), status: ['IDLE'] };
    expect(await threadIds(later)).toEqual({ ids: ['t12'], total: 1 });
    expect((await threadIds({ ...filter, status: ['ERROR'] })).total).toBe(0);
  });

  it("never finds another tenant's metadata, text, model or tool", async () => {
    for (const filter of [
      { metadata: { plan: 'globex-only' } },
      { text: 'zanzibar' },
      { model: ['globex-model'] },
      { toolName: ['globex_tool'] },
    ]) {
      expect(await threadIds(filter)).toEqual({ ids: [], total: 0 });
      expect(await threadIds(filter, globexKey)).toEqual({ ids: ['globex-thread'], total: 1 });
    }
    expect((await threadIds({ text: 'refund' }, globexKey)).ids).toEqual(['globex-thread']);
  });

  it('reads a filtered page with its total in one statement', async () => {
    const filter = { metadata: { plan: 'pro' }, text: 'refund', model: ['gpt-4o'], toolName: ['get_weather'], costUsd: { min: '0' } };
    const { statements } = await server.db.statements.record(() =>
      server.graphql(CONVERSATIONS, { first: 5, filter, orderBy: { field: 'COST_USD', direction: 'DESC' } }),
    );
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
  });
});

describe('ConversationOrder', () => {
  const orders = [
    ['COST_USD', (row: Conversation) => row.costUsd],
    ['TOTAL_TOKENS', (row: Conversation) => new Prisma.Decimal(String(row.totalTokens))],
    ['STEP_COUNT', (row: Conversation) => new Prisma.Decimal(row.stepCount)],
  ] as const;

  it.each(orders)('pages by %s both ways without gaps or repeats, ties broken by id', async (field, valueOf) => {
    for (const direction of ['ASC', 'DESC'] as const) {
      const all = expected(() => true, valueOf, direction === 'DESC');
      const { forward, backward } = await walk({ orderBy: { field, direction } }, 5);
      expect(forward).toEqual(all);
      expect(backward).toEqual(all);
    }
    // Filtered, one row a page: every cursor is a seek from the previous row.
    const filter = { model: ['gpt-4o'] };
    const some = expected((_, index) => index % 2 === 0, valueOf);
    const { forward, backward } = await walk({ orderBy: { field, direction: 'ASC' }, filter }, 1);
    expect(forward).toEqual(some);
    expect(backward).toEqual(some);
    expect((await conversations({ first: 1, filter, orderBy: { field, direction: 'ASC' } })).totalCount).toBe(some.length);
  });
});

describe('bad input', () => {
  /** The error of a request, and the SQL statements it ran besides the API key lookup. */
  async function rejected(variables: Record<string, unknown>) {
    const { result, statements } = await server.db.statements.record(() => server.graphql(CONVERSATIONS, variables));
    expect(result.errors).toHaveLength(1);
    return { error: result.errors![0]!, statements: statements.filter((sql) => !/api_keys/.test(sql)) };
  }

  function deep(levels: number): Record<string, unknown> {
    let value: Record<string, unknown> = { leaf: 1 };
    for (let level = 1; level < levels; level += 1) value = { nested: value };
    return value;
  }

  it.each([
    ['filter.metadata', { metadata: deep(6) }],
    ['filter.metadata', { metadata: { list: [[[[[1]]]]] } }],
    ['filter.metadata', { metadata: { big: 'x'.repeat(4100) } }],
    ['filter.text', { text: 'a'.repeat(501) }],
    ['filter.costUsd', { costUsd: { min: '0.2', max: '0.10000001' } }],
    ['filter.totalTokens', { totalTokens: { min: 11, max: 10 } }],
  ])('rejects a bad %s before any SQL', async (argument, filter) => {
    const { error, statements } = await rejected({ filter });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(statements).toEqual([]);
  });

  it('accepts the limits themselves', async () => {
    expect((await threadIds({ metadata: deep(5) })).total).toBe(0);
    expect((await threadIds({ text: 'a'.repeat(500) })).total).toBe(0);
    expect((await threadIds({ costUsd: { min: '0.1', max: '0.1' } })).total).toBe(0);
  });

  it.each([[[1, 2]], ['pro'], [7]])('rejects a metadata filter that is not an object (%j)', async (metadata) => {
    const { error, statements } = await rejected({ filter: { metadata } });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'filter.metadata' });
    expect(error.message).toContain('filter.metadata');
    expect(statements).toEqual([]);
  });

  it('rejects an unknown order and malformed ranges', async () => {
    for (const [argument, variables] of [
      ['orderBy.field', { orderBy: { field: 'PRICE', direction: 'ASC' } }],
      ['filter.costUsd.min', { filter: { costUsd: { min: 'cheap' } } }],
      ['filter.totalTokens.min', { filter: { totalTokens: { min: 1.5 } } }],
    ] as const) {
      const { error, statements } = await rejected(variables);
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
      expect(statements).toEqual([]);
    }
  });

  it("refuses a cursor whose value is not its order's kind, or from another order, before any SQL", async () => {
    const id = acme[0]!.id;
    const cursor = (field: string, value: unknown) =>
      Buffer.from(JSON.stringify([`Conversation:${field}`, value, id])).toString('base64url');
    const costCursor = (await conversations({ first: 1, orderBy: { field: 'COST_USD', direction: 'ASC' } })).pageInfo.endCursor;
    for (const [field, after] of [
      ['TOTAL_TOKENS', costCursor],
      ['COST_USD', cursor('COST_USD', 0.1)],
      ['COST_USD', cursor('COST_USD', '1e5')],
      ['COST_USD', cursor('COST_USD', '2026-11-01T12:00:00.000Z')],
      ['TOTAL_TOKENS', cursor('TOTAL_TOKENS', '5')],
      ['STEP_COUNT', cursor('STEP_COUNT', 1.5)],
      ['STEP_COUNT', cursor('STEP_COUNT', 2 ** 60)],
      ['LAST_ACTIVITY_AT', cursor('LAST_ACTIVITY_AT', 5)],
    ] as const) {
      const { error, statements } = await rejected({ first: 2, after, orderBy: { field, direction: 'ASC' } });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
      expect(statements).toEqual([]);
    }
    // A forged cursor of the right kind is only a position: it seeks.
    const seeked = await conversations({ first: 100, after: cursor('COST_USD', '3.5'), orderBy: { field: 'COST_USD', direction: 'ASC' } });
    expect(seeked.nodes.length).toBeGreaterThan(0);
  });
});
