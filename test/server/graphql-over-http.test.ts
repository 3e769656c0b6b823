// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): a GraphQL response sent as
// application/json answers 200 with the coded error in the body; Apollo's statuses stand only when the client
// prefers application/graphql-response+json, and for requests that are not GraphQL at all.
import { createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';

let server: TestServer;
let writeOnlyKey: string;

beforeAll(async () => {
  server = await startTestServer();
  await createSession(server.db);
  writeOnlyKey = await server.createKey('acme', ['write']);
});
afterAll(() => server?.close());

interface Answer {
  status: number;
  contentType: string | null;
  body: { data?: unknown; errors?: { message: string; path?: unknown[]; extensions?: { code?: string } }[] };
}

async function post(body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> {
  const response = await fetch(server.url, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}`, ...headers },
    body,
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: (await response.json()) as Answer['body'] };
}

const operation = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });

/** GraphQL responses with an error, the code they carry and the status Apollo gives them for graphql-response+json. */
const GRAPHQL_ERRORS: { name: string; body: () => string; headers?: () => Record<string, string>; code: string; apolloStatus: number }[] = [
  {
    name: 'an unknown API key',
    body: () => operation('{ sessions { totalCount } }'),
    headers: () => ({ authorization: 'Bearer cq_unknown' }),
    code: 'UNAUTHENTICATED',
    apolloStatus: 401,
  },
  {
    name: "another tenant's x-tenant-id",
    body: () => operation('{ sessions { totalCount } }'),
    headers: () => ({ 'x-tenant-id': 'globex' }),
    code: 'FORBIDDEN',
    apolloStatus: 403,
  },
  {
    name: 'a query over the cost limit',
    body: () => operation('{ sessions(first: 100) { nodes { messages(last: 100) { nodes { id content } } } } }'),
    code: 'QUERY_TOO_COMPLEX',
    apolloStatus: 400,
  },
  { name: 'a syntax error', body: () => operation('{ sessions { '), code: 'GRAPHQL_PARSE_FAILED', apolloStatus: 400 },
  { name: 'an unknown field', body: () => operation('{ nope }'), code: 'GRAPHQL_VALIDATION_FAILED', apolloStatus: 400 },
  {
    name: 'a variable of the wrong type',
    body: () => operation('query($n: Int) { sessions(first: $n) { totalCount } }', { n: 'many' }),
    code: 'BAD_USER_INPUT',
    apolloStatus: 400,
  },
];

describe.each(GRAPHQL_ERRORS)('$name', ({ body, headers, code, apolloStatus }) => {
  it.each([
    ['no Accept header', {}],
    ['application/json', { accept: 'application/json' }],
    ['*/*', { accept: '*/*' }],
  ])('answers 200 with %s, the code in the body', async (_name, accept: Record<string, string>) => {
    const answer = await post(body(), { ...headers?.(), ...accept });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual([code]);
  });

  it(`answers ${apolloStatus} when the client prefers application/graphql-response+json`, async () => {
    const answer = await post(body(), { ...headers?.(), accept: `${GRAPHQL_RESPONSE_JSON}, application/json;q=0.9` });
    expect(answer.status).toBe(apolloStatus);
    expect(answer.contentType).toMatch(/^application\/graphql-response\+json/);
    expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual([code]);
  });
});

describe('an executed operation with errors', () => {
  it('answers 200 with its data for both media types', async () => {
    for (const accept of ['application/json', GRAPHQL_RESPONSE_JSON]) {
      const answer = await post(operation('{ sessions { totalCount } }'), { authorization: `Bearer ${writeOnlyKey}`, accept });
      expect({ accept, status: answer.status, data: answer.body.data }).toEqual({ accept, status: 200, data: null });
      expect(answer.body.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[['sessions'], 'FORBIDDEN']]);
    }
  });
});

describe('requests that are not GraphQL', () => {
  it.each(['application/json', GRAPHQL_RESPONSE_JSON])('keep their 4xx status with Accept %s', async (accept) => {
    expect((await post('{ "query": ', { accept })).status).toBe(400);
    expect((await post(JSON.stringify({ variables: {} }), { accept })).status).toBe(400);
    expect((await post(operation(`{ sessions { totalCount } } # ${'x'.repeat(150_000)}`), { accept })).status).toBe(413);
    const put = await post(operation('{ sessions { totalCount } }'), { accept }, 'PUT');
    expect(put.status).toBe(405);
    expect(put.body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    const missing = await post(JSON.stringify({ variables: {} }), { accept });
    expect(missing.body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
  });
});
