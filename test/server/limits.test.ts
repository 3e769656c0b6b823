import { getIntrospectionQuery, getOperationAST, parse } from 'graphql';
import { buildSchema } from '../../src/server/schema';
import { countTokens, measureOperation } from '../../src/server/limits';
import { createMessages, createSession } from '../helpers/factories';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

let server: TestServer;
let limits: TestServer['config']['graphql'];

beforeAll(async () => {
  server = await startTestServer();
  limits = server.config.graphql;
  const session = await createSession(server.db, { externalId: 'limits-1' });
  await createMessages(server.db, session, [{ role: 'USER' }, { role: 'ASSISTANT' }]);
});

afterAll(() => server?.close());

/** Statements other than the API key lookup, which authentication issues before any limit is checked. */
function dataStatements(statements: string[]): string[] {
  return statements.filter((sql) => !/api_keys/.test(sql));
}

/** Sends an operation that must be rejected and checks the rejection reached no resolver and no table. */
async function expectRejected(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  const { result, statements } = await server.db.statements.record(() => server.graphql(query, variables));
  // Refused before execution: no `data`, and HTTP 200 as application/json (GraphQL over HTTP).
  expect(result.status).toBe(200);
  expect(result.data).toBeUndefined();
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0]!.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  expect(dataStatements(statements)).toEqual([]);
  return result;
}

async function expectAccepted(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  const result = await server.graphql(query, variables);
  expect(result.errors).toBeUndefined();
  expect(result.status).toBe(200);
  return result;
}

/** A selection `levels` fields deep on a Session, down the lastMessage/session links to `id`. */
function sessionChain(levels: number): string {
  let selection = 'id';
  for (let level = levels - 1; level >= 1; level--) selection = `${level % 2 === 1 ? 'lastMessage' : 'session'} { ${selection} }`;
  return selection;
}

/** A query `depth` fields deep in all. */
function deepQuery(depth: number): string {
  return `{ sessionByExternalId(sessionId: "limits-1") { ${sessionChain(depth - 1)} } }`;
}

describe('defaults', () => {
  it.each([
    ['the default introspection query', {}],
    [
      'introspection with every option',
      { inputValueDeprecation: true, schemaDescription: true, specifiedByUrl: true, directiveIsRepeatable: true },
    ],
  ])('admit %s', async (_name, options) => {
    const response = await expectAccepted(getIntrospectionQuery(options));
    expect(response.data).toHaveProperty('__schema.queryType.name', 'Query');
    const cost = response.extensions?.cost as { requested: number; limit: number };
    expect(cost.limit).toBe(limits.maxCost);
    expect(cost.requested).toBeGreaterThan(100);
    expect(cost.requested).toBeLessThan(limits.maxCost / 10);
  });

  it('measure the introspection query as depth 15, within the default depth', async () => {
    const schema = await buildSchema();
    const document = parse(getIntrospectionQuery());
    const measured = measureOperation(schema, document, getOperationAST(document)!);
    expect(measured).toEqual({ depth: 15, aliases: 0, cost: 220 });
    expect(limits.maxDepth).toBeGreaterThanOrEqual(measured.depth);
    expect(countTokens(getIntrospectionQuery())).toBeLessThan(limits.maxTokens);
  });
});

describe('depth', () => {
  it('accepts a query exactly at the limit', async () => {
    const response = await expectAccepted(deepQuery(limits.maxDepth));
    expect(response.data).toEqual({ sessionByExternalId: expect.objectContaining({ lastMessage: expect.any(Object) }) });
  });

  it('rejects a query one level deeper, naming both numbers', async () => {
    const response = await expectRejected(deepQuery(limits.maxDepth + 1));
    expect(response.errors![0]).toMatchObject({
      message: `Query depth ${limits.maxDepth + 1} exceeds the limit of ${limits.maxDepth}.`,
      extensions: { code: 'QUERY_TOO_COMPLEX', depth: limits.maxDepth + 1, maxDepth: limits.maxDepth },
    });
  });

  it('counts the depth of fragments where they are spread', async () => {
    const query = `query { sessionByExternalId(sessionId: "limits-1") { ...Deep } } fragment Deep on Session { ${sessionChain(limits.maxDepth)} }`;
    const response = await expectRejected(query);
    expect(response.errors![0]!.extensions).toMatchObject({ depth: limits.maxDepth + 1 });
  });
});

describe('aliases', () => {
  const aliased = (count: number) => `{ ${Array.from({ length: count }, (_, index) => `a${index}: __typename`).join(' ')} }`;

  it('accepts as many aliases as the limit', async () => {
    await expectAccepted(aliased(limits.maxAliases));
  });

  it('rejects one alias more', async () => {
    const response = await expectRejected(aliased(limits.maxAliases + 1));
    expect(response.errors![0]!.message).toBe(`Query alias count ${limits.maxAliases + 1} exceeds the limit of ${limits.maxAliases}.`);
  });

  it('counts the aliases of a fragment at each spread', async () => {
    const half = Math.ceil((limits.maxAliases + 1) / 2);
    const fields = Array.from({ length: half }, (_, index) => `a${index}: __typename`).join(' ');
    const response = await expectRejected(`{ ...Aliases ... on Query { ...Aliases } } fragment Aliases on Query { ${fields} }`);
    expect(response.errors![0]!.extensions).toMatchObject({ aliases: half * 2, maxAliases: limits.maxAliases });
  });
});

describe('tokens', () => {
  /** A valid query of exactly `count` tokens: 19 around a list of strings (repeated fields would trip graphql's own validation budget). */
  const tokens = (count: number) => `{ sessions(first: 1, filter: { channel: [${'"web" '.repeat(count - 19)}] }) { totalCount } }`;

  it('accepts a document exactly at the limit, and does not count comments', async () => {
    expect(countTokens(tokens(limits.maxTokens))).toBe(limits.maxTokens);
    await expectAccepted(`# ${'a comment is not a token '.repeat(50)}\n${tokens(limits.maxTokens)}`);
  });

  it('rejects a longer document with QUERY_TOO_COMPLEX, not as a syntax error', async () => {
    const response = await expectRejected(tokens(limits.maxTokens + 500));
    expect(response.errors![0]).toEqual({
      message: `Query token count ${limits.maxTokens + 500} exceeds the limit of ${limits.maxTokens}.`,
      extensions: { code: 'QUERY_TOO_COMPLEX', tokens: limits.maxTokens + 500, maxTokens: limits.maxTokens },
    });
    expect(response.extensions?.cost).toMatchObject({ requested: null, limit: limits.maxCost });
  });

  it('still reports a plain syntax error as one', async () => {
    const response = await server.graphql('{ sessions { ');
    expect(response.status).toBe(200);
    expect(response.errors![0]!.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });
});

describe('cost', () => {
  const NESTED = /* GraphQL */ `
    query Nested($outer: Int, $inner: Int) {
      sessions(first: $outer) {
        nodes {
          messages(first: $inner) {
            nodes {
              id
              content
            }
          }
        }
      }
    }
  `;
  /** sessions(outer) > nodes > messages(inner) > nodes > { id content }. */
  const nestedCost = (outer: number, inner: number) => 1 + outer * (1 + 1 + inner * (1 + 2));

  it('multiplies the selection of a connection by literal page sizes', async () => {
    const accepted = await expectAccepted('{ sessions(first: 100) { nodes { messages(first: 10) { nodes { id content } } } } }');
    expect(accepted.extensions?.cost).toMatchObject({ requested: nestedCost(100, 10), limit: limits.maxCost });
    const rejected = await expectRejected('{ sessions(first: 100) { nodes { messages(last: 100) { nodes { id content } } } } }');
    expect(rejected.errors![0]!.message).toMatch(
      new RegExp(`^Query cost ${nestedCost(100, 100)} exceeds the limit of ${limits.maxCost}\\. `),
    );
    expect(rejected.errors![0]!.extensions).toMatchObject({ cost: nestedCost(100, 100), maxCost: limits.maxCost });
    expect(rejected.extensions?.cost).toMatchObject({ requested: nestedCost(100, 100), limit: limits.maxCost });
  });

  it('uses variable values, variable defaults and the default page of 20', async () => {
    expect((await expectAccepted(NESTED, { outer: 100, inner: 10 })).extensions?.cost).toMatchObject({ requested: nestedCost(100, 10) });
    expect((await expectRejected(NESTED, { outer: 100, inner: 100 })).extensions?.cost).toMatchObject({ requested: nestedCost(100, 100) });
    expect((await expectAccepted(NESTED, { outer: 100, inner: null })).extensions?.cost).toMatchObject({ requested: nestedCost(100, 20) });
    expect((await expectAccepted(NESTED, {})).extensions?.cost).toMatchObject({ requested: nestedCost(20, 20) });
    const withDefault = NESTED.replace('$inner: Int', '$inner: Int = 100');
    await expectRejected(withDefault, { outer: 100 });
    // Measurements are remembered per document and page sizes; other variables do not change them.
    expect((await expectAccepted(NESTED, { outer: 100, inner: 10 })).extensions?.cost).toMatchObject({ requested: nestedCost(100, 10) });
    await expectRejected(NESTED, { outer: 100, inner: 100 });
    expect((await expectAccepted(withDefault, { outer: 1 })).extensions?.cost).toMatchObject({ requested: nestedCost(1, 100) });
  });

  it('follows named and inline fragments', async () => {
    await expectRejected(`
      query { sessions(first: 100) { ...Page } }
      fragment Page on SessionConnection { nodes { ... on Session { messages(first: 100) { ...Messages } } } }
      fragment Messages on MessageConnection { nodes { id content } }
    `);
  });

  it('measures fragments that double at every level without expanding them', async () => {
    const levels = 24;
    const fragments = Array.from({ length: levels }, (_, level) => `fragment F${level + 1} on Query { ...F${level} ...F${level} }`).join(
      '\n',
    );
    const query = `query { ...F${levels} }\nfragment F0 on Query { __typename }\n${fragments}`;
    const started = performance.now();
    const response = await expectRejected(query);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(response.errors![0]!.extensions).toMatchObject({ cost: 2 ** levels });
  });

  it('lets the connection helper reject page sizes over the maximum, costing them as the maximum', async () => {
    const response = await server.graphql('{ sessions(first: 1000) { nodes { id } } }');
    expect(response.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.extensions?.cost).toMatchObject({ requested: 1 + 100 * 2, limit: limits.maxCost });
  });
});

describe('rejection happens before anything runs', () => {
  it('issues no SQL at all for an over-limit query without an API key, and does not even check authorization', async () => {
    const { result, statements } = await server.db.statements.record(() =>
      server.graphql('{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }', {}, { apiKey: null }),
    );
    expect(result.errors![0]!.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    // An earlier request's fire-and-forget "last used" update may land in the window; it is not this request's.
    expect(statements.filter((sql) => !/^UPDATE "public"."api_keys" SET "last_used_at"/.test(sql))).toEqual([]);
  });

  it('issues SQL for the same query within the limits (control)', async () => {
    const { statements } = await server.db.statements.record(() =>
      server.graphql('{ sessions(first: 100) { nodes { messages(first: 10) { nodes { id } } } } }'),
    );
    expect(dataStatements(statements).length).toBeGreaterThan(0);
  });
});

describe('extensions.cost', () => {
  it.each([
    ['a successful query', '{ sessions { totalCount } }', {}, 1 + 20 * 1],
    ['a resolver error', '{ sessions(first: 0) { totalCount } }', {}, 1],
    ['an UNAUTHENTICATED field', '{ sessions { totalCount } }', { apiKey: null }, 1 + 20 * 1],
    ['a validation error', '{ sessions { noSuchField } }', {}, null],
    ['a syntax error', '{ sessions {', {}, null],
  ])('is reported on %s', async (_name, query, options, requested) => {
    const response = await server.graphql(query, {}, options);
    expect(response.extensions?.cost).toMatchObject({ requested, limit: limits.maxCost });
  });
});

describe('measureOperation cost', () => {
  const ids = (count: number) => Array.from({ length: count }, (_, index) => `"U2Vzc2lvbjp${index}"`).join(', ');
  const idList = (count: number) => Array.from({ length: count }, (_, index) => `id-${index}`);
  const representations = (count: number) => Array.from({ length: count }, () => '{ __typename: "Session", id: "x" }').join(', ');
  /** A session detail: messages costs 1 + 100 * (nodes + 3 fields), trace 1 + counts 1 + 2 fields. */
  const DETAIL = 'messages(first: 100) { nodes { id content metadata } } trace { counts { errors toolCalls } }';
  const detailCost = 1 + 100 * (1 + 3) + (1 + (1 + 2));

  it.each<[string, string, Record<string, unknown>, number]>([
    ['a plain field', '{ __typename }', {}, 1],
    ['a connection with the default page', '{ sessions { nodes { id } } }', {}, 1 + 20 * (1 + 1)],
    ['node by one id', '{ node(id: "x") { id ... on Session { messages(first: 10) { nodes { id } } } } }', {}, 1 + 1 + 1 + 10 * 2],
    ['nodes with a literal list', `{ nodes(ids: [${ids(3)}]) { id } }`, {}, 1 + 3 * 1],
    ['nodes with one id written without a list', '{ nodes(ids: "x") { id } }', {}, 1 + 1],
    ['nodes with an empty list', '{ nodes(ids: []) { id } }', {}, 1],
    ['nodes with a list variable', 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: idList(7) }, 1 + 7],
    ['nodes with a variable of unknown length', 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', {}, 1 + 100],
    ['nodes with a list default', 'query($ids: [ID!]! = ["a", "b"]) { nodes(ids: $ids) { id } }', {}, 1 + 2],
    [
      'nodes: an inline fragment on Session, a connection inside (the issue: 100 ids x 100 messages)',
      `{ nodes(ids: [${ids(100)}]) { ... on Session { ${DETAIL} } } }`,
      {},
      1 + 100 * detailCost,
    ],
    [
      'sessions(first: 100) with the same selection, for comparison',
      `{ sessions(first: 100) { nodes { ${DETAIL} } } }`,
      {},
      1 + 100 * (1 + detailCost),
    ],
    [
      'nodes: an inline fragment on Node and a named fragment',
      `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Node { id } ...Detail } } fragment Detail on Session { messages(last: 5) { nodes { id } } }`,
      { ids: idList(10) },
      1 + 10 * (1 + 1 + 5 * 2),
    ],
    [
      'aliases: each aliased nodes counts',
      `{ a: nodes(ids: [${ids(50)}]) { id } b: nodes(ids: [${ids(50)}]) { ... on Session { messages(first: 2) { nodes { id } } } } }`,
      {},
      1 + 50 + 1 + 50 * (1 + 2 * 2),
    ],
    [
      '_entities with literal representations',
      `{ _entities(representations: [${representations(4)}]) { ... on Session { ${DETAIL} } } }`,
      {},
      1 + 4 * detailCost,
    ],
    [
      '_entities with a variable',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Session { id } } }',
      { r: Array.from({ length: 30 }, () => ({ __typename: 'Session', id: 'x' })) },
      1 + 30,
    ],
    [
      'a page size variable inside nodes',
      'query($ids: [ID!]!, $n: Int) { nodes(ids: $ids) { ... on Session { messages(first: $n) { nodes { id } } } } }',
      { ids: idList(20), n: 50 },
      1 + 20 * (1 + 50 * 2),
    ],
  ])('%s', async (_name, query, variables, expected) => {
    const schema = await buildSchema();
    const document = parse(query);
    expect(measureOperation(schema, document, getOperationAST(document)!, variables).cost).toBe(expected);
  });

  it("refuses the issue's 100 ids with 100 messages each, as it refuses the same through sessions(first: 100)", async () => {
    const response = await expectRejected(`{ nodes(ids: [${ids(100)}]) { ... on Session { ${DETAIL} } } }`);
    expect(response.errors![0]!.extensions).toMatchObject({ cost: 1 + 100 * detailCost, maxCost: limits.maxCost });
    expect(response.errors![0]!.message).toMatch(/`nodes` or `_entities` by the number of ids or representations/);
    await expectRejected(`{ sessions(first: 100) { nodes { ${DETAIL} } } }`);
  });

  it('measures the same document again by the length of its list variable, not by the first length seen', async () => {
    const query = 'query Many($ids: [ID!]!) { nodes(ids: $ids) { ... on Session { messages(first: 100) { nodes { id } } } } }';
    const few = await server.graphql(query, { ids: idList(2) });
    expect(few.extensions?.cost).toMatchObject({ requested: 1 + 2 * (1 + 100 * 2) });
    await expectRejected(query, { ids: idList(100) });
    expect((await server.graphql(query, { ids: idList(3) })).extensions?.cost).toMatchObject({ requested: 1 + 3 * (1 + 100 * 2) });
  });
});

describe('measureOperation', () => {
  it('terminates on fragment cycles, which validation would have rejected', async () => {
    const schema = await buildSchema();
    const document = parse('query { ...A } fragment A on Query { __typename ...B } fragment B on Query { a: __typename ...A }');
    expect(measureOperation(schema, document, getOperationAST(document)!)).toEqual({ depth: 1, aliases: 1, cost: 2 });
  });
});
