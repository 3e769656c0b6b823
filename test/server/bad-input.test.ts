// Every bad input gets a coded answer, never INTERNAL_SERVER_ERROR or HTTP 500: generated from the schema for every
// root field and argument, on compiled execution and on graphql-js (a request asking for a federated trace runs there).
import { createHash } from 'node:crypto';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isAbstractType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { buildSchema } from '../../src/server/schema';
import { toGlobalId } from '../../src/graphql/global-id';
import { createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

/** Codes a client can act on; INTERNAL_SERVER_ERROR is deliberately absent. */
const KNOWN_CODES = new Set([
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'QUERY_TOO_COMPLEX',
  'NOT_FOUND',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
]);
const EXECUTORS = { compiled: {}, 'graphql-js': { 'apollo-federation-include-trace': 'ftv1' } } as const;
const MEGABYTE_STRING = 'x'.repeat(1024 * 1024);
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const UUID = '00000000-0000-4000-8000-000000000000';
const FORGED_CURSORS = [
  cursor(['Session:STARTED_AT', 'not-a-date', 'x']),
  cursor(['Session:STARTED_AT', '2026-01-01T00:00:00.000Z', 'not-a-uuid']),
  cursor(['Session:STARTED_AT', 5, UUID]),
  cursor(['Session:STARTED_AT', '+300000-01-01T00:00:00.000Z', UUID]),
  cursor(['Conversation:LAST_ACTIVITY_AT', '2026-02-30T00:00:00.000Z', UUID]),
  cursor(['Message:CREATED_AT', '2026-01-01T00:00:00Z', UUID]),
  cursor(['ReplayStep::', 0, '0']),
  cursor([1, 2, 3]),
];

let server: TestServer;
let schema: GraphQLSchema;
let validId: string;

beforeAll(async () => {
  server = await startTestServer({ BODY_LIMIT: '3mb' });
  schema = await buildSchema();
  validId = sessionGid(await createSession(server.db));
});

afterAll(() => server?.close());

/** A deterministic pseudo-random generator (mulberry32), so every run sends the same requests. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deeplyNested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { a: value };
  return value;
}

/** Values of the wrong type, out of bounds or malformed for an input type; `argument` names the argument. */
function badValues(type: GraphQLInputType, argument: string): unknown[] {
  const common = [{ nested: deeplyNested(1000) }, 'a\u0000b', '\ud800', true];
  if (isNonNullType(type)) return [null, ...badValues(type.ofType, argument)];
  if (isListType(type))
    return [
      [[]],
      [null],
      ...badValues(type.ofType, argument)
        .slice(0, 4)
        .map((value) => [value]),
    ];
  if (isEnumType(type)) return ['NOPE', 1, 'a\u0000', ...common];
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    return [
      'x',
      [],
      { nope: 1 },
      deeplyNested(1000),
      ...fields.flatMap((field) => badValues(field.type, field.name).map((value) => ({ [field.name]: value }))),
    ];
  }
  switch (getNamedType(type).name) {
    case 'Int':
      return ['1', 1.5, -1, 0, 101, 2 ** 31, -(2 ** 31) - 1, ...common];
    case 'String':
      return [
        1,
        {},
        MEGABYTE_STRING,
        ...common,
        ...(argument === 'after' || argument === 'before' ? FORGED_CURSORS : []),
        ...(argument === 'namespace' ? ['nope', 'a|b'] : []),
      ];
    case 'ID':
      return [1.5, 'not-an-id', toGlobalId('Session', UUID).slice(0, -2), cursor(['Tenant', UUID]), MEGABYTE_STRING, ...common];
    case 'DateTime':
      return ['not-a-date', '2026-02-30T00:00:00Z', '+300000-01-01T00:00:00Z', 5, ...common];
    default:
      return ['x', 1.5, [], ...common];
  }
}

/** A valid value for a required argument, so that only the argument under test is wrong. */
function validValue(argument: GraphQLArgument): unknown {
  switch (argument.name) {
    case 'id':
      return validId;
    case 'ids':
      return [validId];
    case 'groupBy':
      return 'DAY';
    case 'input':
      return { id: validId, status: 'CLOSED' };
    case 'representations':
      return [{ __typename: 'Session', id: validId }];
    default:
      return 'x';
  }
}

function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  return isObjectType(type) || isAbstractType(type) ? '{ __typename }' : '';
}

/** Every request: for each root field and argument, each bad value, as a variable; deterministic sample of the whole. */
function generatedRequests(): { name: string; query: string; variables: Record<string, unknown> }[] {
  const requests: { name: string; query: string; variables: Record<string, unknown> }[] = [];
  for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
    const keyword = root === schema.getMutationType() ? 'mutation' : 'query';
    for (const field of Object.values(root.getFields())) {
      for (const argument of field.args) {
        const others = field.args.filter((other) => other !== argument && isNonNullType(other.type));
        const definitions = [argument, ...others].map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
        const call = [argument, ...others].map((arg) => `${arg.name}: $${arg.name}`).join(', ');
        const query = `${keyword} (${definitions}) { ${field.name}(${call}) ${selectionOf(field)} }`;
        const fixed = Object.fromEntries(others.map((other) => [other.name, validValue(other)]));
        for (const value of badValues(argument.type, argument.name)) {
          requests.push({ name: `${field.name}(${argument.name})`, query, variables: { ...fixed, [argument.name]: value } });
        }
      }
    }
  }
  // Keep it a few hundred requests: every argument keeps its first values, the rest are sampled with a fixed seed.
  const random = seeded(16);
  return requests.filter((request, index) => index === requests.findIndex((other) => other.name === request.name) || random() < 0.5);
}

function expectCoded(response: GraphQLResponse, what: string): void {
  const codes = (response.errors ?? []).map((error) => error.extensions?.code);
  expect({ what, status: response.status < 500, codes: codes.every((code) => KNOWN_CODES.has(code as string)) }).toEqual({
    what,
    status: true,
    codes: true,
  });
}

describe.each(Object.entries(EXECUTORS))('on %s execution', (_executor, headers) => {
  it('every generated bad argument of every root field gets a known code', async () => {
    const requests = generatedRequests();
    expect(requests.length).toBeGreaterThan(100);
    let refused = 0;
    for (const { name, query, variables } of requests) {
      const response = await server.graphql(query, variables, { headers });
      expectCoded(response, `${name} ${JSON.stringify(variables).slice(0, 120)}`);
      if (response.errors?.length) refused++;
    }
    // Most bad values are refused; a few are merely unusual (an unknown namespace, a string that matches nothing).
    expect(refused).toBeGreaterThan(requests.length * 0.8);
  });

  it.each([
    ['a NUL in a literal', '{ sessionByExternalId(sessionId: "a\\u0000b") { id } }', {}],
    ['a NUL in a variable', 'query ($s: String!) { sessionByExternalId(sessionId: $s) { id } }', { s: 'a\u0000b' }],
    ['a NUL in a filter', '{ sessions(filter: { channel: ["web\\u0000"] }) { totalCount } }', {}],
    ['a NUL in the usage channel', 'query ($c: [String!]) { usage(groupBy: DAY, filter: { channel: $c }) { from } }', { c: ['\u0000'] }],
    ['a NUL in a thread id', '{ conversationByThreadId(threadId: "t\\u0000") { id } }', {}],
    ['a lone surrogate in a variable', 'query ($t: String!) { conversationByThreadId(threadId: $t) { id } }', { t: 'a\ud800' }],
    [
      'a NUL in the replay namespace',
      'query ($id: ID!) { conversation(id: $id) { replay(first: 1, namespace: "\\u0000") { totalCount } } }',
      { id: toGlobalId('Conversation', UUID) },
    ],
    ['a NUL in an unused variable', '{ __typename }', { unused: { deep: ['\u0000'] } }],
  ])('%s is BAD_USER_INPUT', async (_case, query, variables) => {
    const response = await server.graphql(query, variables, { headers });
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it.each(FORGED_CURSORS.slice(0, 4))('a forged session cursor %s is BAD_USER_INPUT', async (forged) => {
    const response = await server.graphql(
      'query ($c: String) { sessions(first: 1, after: $c) { totalCount } }',
      { c: forged },
      { headers },
    );
    expect(response.errors?.map((error) => error.extensions)).toEqual([
      expect.objectContaining({ code: 'BAD_USER_INPUT', argument: 'after' }),
    ]);
  });

  it('a forged conversation cursor is BAD_USER_INPUT', async () => {
    const response = await server.graphql(
      'query ($c: String) { conversations(last: 1, before: $c) { totalCount } }',
      { c: cursor(['Conversation:LAST_ACTIVITY_AT', '2026-01-01T00:00:00.000Z', 7]) },
      { headers },
    );
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('an operation name the document lacks is OPERATION_RESOLUTION_FAILURE', async () => {
    const response = await post({ query: '{ __typename }', operationName: 'Nope' }, headers);
    expect(response.status).toBeLessThan(500);
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['OPERATION_RESOLUTION_FAILURE']);
  });

  it('a subscription over HTTP is a validation error that points to the WebSocket', async () => {
    const response = await server.graphql('subscription S { messageAdded(sessionId: "U2Vzc2lvbjox") { content } }', {}, { headers });
    expect(response.status).toBe(200);
    expect(response.errors).toEqual([
      expect.objectContaining({
        message:
          'Subscriptions are served over WebSocket on this path (the graphql-transport-ws protocol of graphql-ws); send queries and mutations over HTTP.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
  });

  it("a persisted query whose hash does not match its text gets Apollo's answer, coded BAD_REQUEST", async () => {
    const query = '{ __typename }';
    const wrong = await post({ query, extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }, headers);
    expect(wrong.status).toBe(400);
    expect(wrong.errors).toEqual([{ message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } }]);
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const right = await post({ query, extensions: { persistedQuery: { version: 1, sha256Hash } } }, headers);
    expect(right.data).toEqual({ __typename: 'Query' });
  });
});

async function post(body: object, headers: Record<string, string>): Promise<GraphQLResponse> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as object) };
}
