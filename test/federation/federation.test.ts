import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { assertObjectType, parse } from 'graphql';
import type { Message, Session } from '../../src/generated/prisma/client';
import { printConvoqlSchema } from '../../src/cli/emit-schema';
import { toGlobalId } from '../../src/graphql/global-id';
import { at, createMessages, createSession, createSessions, sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { feedbackTypeDefs, startFeedbackSubgraph, type FeedbackSubgraph } from './feedback-subgraph';
import { startGateway } from './gateway';
import { postGraphQL, type ListeningGraphQLServer } from './graphql-http';

const SERVICE_SDL = /* GraphQL */ `
  {
    _service {
      sdl
    }
  }
`;

const ENTITIES = /* GraphQL */ `
  query Entities($representations: [_Any!]!) {
    _entities(representations: $representations) {
      __typename
      ... on Session {
        id
        sessionId
      }
      ... on Message {
        id
        content
      }
    }
  }
`;

interface ServiceData {
  _service: { sdl: string };
}

type EntityData = { __typename: 'Session'; id: string; sessionId: string } | { __typename: 'Message'; id: string; content: string };

interface EntitiesData {
  _entities: (EntityData | null)[];
}

/** A representation as the gateway sends it to `_entities` (or a client sends it, possibly malformed). */
interface Representation {
  __typename: string;
  id: unknown;
}

/** Collapses runs of whitespace, so two printers' layouts compare equal when the SDL is the same. */
function normalizeWhitespace(sdl: string): string {
  return sdl.replace(/\s+/g, ' ').trim();
}

function sessionRepresentation(session: Pick<Session, 'id'>): Representation {
  return { __typename: 'Session', id: sessionGid(session) };
}

function messageRepresentation(message: Pick<Message, 'id'>): Representation {
  return { __typename: 'Message', id: toGlobalId('Message', message.id) };
}

let server: TestServer;
/** 100 sessions of acme, `fed-000` … `fed-099`, started one minute apart. */
let acmeSessions: Session[];
/** 100 messages of acme, all in the first session. */
let acmeMessages: Message[];
let globexSession: Session;

beforeAll(async () => {
  // A budget restored slowly (100 points a second), so that a key that spent it is throttled for minutes.
  server = await startTestServer({ COST_BUDGET_RESTORE_RATE: '100' });
  acmeSessions = await createSessions(server.db, 100, (index) => ({
    externalId: `fed-${String(index).padStart(3, '0')}`,
    startedAt: at(index),
  }));
  acmeMessages = await createMessages(
    server.db,
    acmeSessions[0]!,
    Array.from({ length: 100 }, (_, index) => ({ content: `message ${String(index).padStart(3, '0')}` })),
  );
  globexSession = await createSession(server.db, { tenantId: 'globex', externalId: 'fed-globex' });
});

afterAll(() => server?.close());

describe('_service', () => {
  it('serves the Federation 2 SDL that schema:emit prints, over HTTP and without an API key', async () => {
    const response = await server.graphql<ServiceData>(SERVICE_SDL, {}, { apiKey: null });
    expect(response.status).toBe(200);
    expect(response.errors).toBeUndefined();
    const sdl = response.data!._service.sdl;
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.7"');
    expect(sdl).toMatch(/type Session implements Node\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type Message implements Node\s+@key\(fields: "id"\)/);
    // `_service` prints federation's own definitions too; printSubgraphSchema leaves them out. Whether
    // the committed schema.graphql is up to date with the code is `npm run schema:check`'s job.
    const reprinted = printSubgraphSchema(buildSubgraphSchema(parse(sdl)));
    expect(normalizeWhitespace(reprinted)).toBe(normalizeWhitespace(await printConvoqlSchema()));
  });
});

const acmeIndexes = (count: number) => Array.from({ length: count }, (_, index) => index);

describe('_entities', () => {
  it("resolves the caller's tenant's sessions and messages, and null for another tenant's or a malformed id", async () => {
    const representations: Representation[] = [
      sessionRepresentation(acmeSessions[1]!),
      sessionRepresentation(globexSession),
      { __typename: 'Session', id: 'not-a-convoql-id' },
      // A well-formed global ID of another type is not a Session either.
      { __typename: 'Session', id: toGlobalId('Message', acmeMessages[0]!.id) },
      messageRepresentation(acmeMessages[2]!),
      { __typename: 'Message', id: sessionGid(acmeSessions[2]!) },
    ];
    const response = await server.graphql<EntitiesData>(ENTITIES, { representations });
    expect(response.errors).toBeUndefined();
    expect(response.data!._entities).toEqual([
      { __typename: 'Session', id: sessionGid(acmeSessions[1]!), sessionId: 'fed-001' },
      null,
      null,
      null,
      { __typename: 'Message', id: toGlobalId('Message', acmeMessages[2]!.id), content: 'message 002' },
      null,
    ]);
  });

  it("resolves globex's session for a globex key", async () => {
    const globexKey = await server.createKey('globex', ['read']);
    const response = await server.graphql<EntitiesData>(
      ENTITIES,
      { representations: [sessionRepresentation(globexSession), sessionRepresentation(acmeSessions[0]!)] },
      { apiKey: globexKey },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data!._entities).toEqual([{ __typename: 'Session', id: sessionGid(globexSession), sessionId: 'fed-globex' }, null]);
  });

  it('answers UNAUTHENTICATED without an API key', async () => {
    const response = await server.graphql<EntitiesData>(
      ENTITIES,
      { representations: [sessionRepresentation(acmeSessions[0]!)] },
      { apiKey: null },
    );
    expect(response.data?._entities).toEqual([null]);
    expect(response.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[['_entities', 0], 'UNAUTHENTICATED']]);
  });

  it('resolves 50 sessions and 50 messages with one SQL statement per type', async () => {
    const representations = acmeSessions
      .slice(0, 50)
      .flatMap((session, index) => [sessionRepresentation(session), messageRepresentation(acmeMessages[index]!)]);
    const { result, statements } = await server.db.statements.record(() => server.graphql<EntitiesData>(ENTITIES, { representations }));
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toHaveLength(100);
    expect(result.data!._entities.map((entity) => entity?.id)).toEqual(representations.map((representation) => representation.id));
    const dataStatements = statements.filter((sql) => !/api_keys/.test(sql));
    expect(dataStatements).toHaveLength(2);
    expect(dataStatements.filter((sql) => /FROM sessions\b/.test(sql))).toHaveLength(1);
    expect(dataStatements.filter((sql) => /FROM messages\b/.test(sql))).toHaveLength(1);
  });

  it.each<[string, unknown[]]>([
    ['101 representations', [...acmeIndexes(101)].map(() => ({ __typename: 'Session', id: 'U2Vzc2lvbg' }))],
    ['a string', ['x']],
    ['a number', [42.5]],
    ['null', [null]],
    ['a list', [[]]],
    ['an unknown type', [{ __typename: 'Nope', id: '1' }]],
    ['a type that is no entity', [{ __typename: 'PageInfo', id: '1' }]],
    ['no __typename', [{ id: '1' }]],
    ['no id', [{ __typename: 'Session' }]],
    ['a number id', [{ __typename: 'Session', id: 42 }]],
  ])('rejects %s with BAD_USER_INPUT before any SQL', async (_case, representations) => {
    const { result, statements } = await server.db.statements.record(() => server.graphql<EntitiesData>(ENTITIES, { representations }));
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toEqual([]);
  });
});

describe('composition with another subgraph', () => {
  it('composes with a subgraph that extends Session, without errors', async () => {
    const convoqlSdl = await printConvoqlSchema();
    const result = composeServices([
      { name: 'convoql', typeDefs: parse(convoqlSdl), url: 'http://convoql.invalid/graphql' },
      { name: 'feedback', typeDefs: feedbackTypeDefs, url: 'http://feedback.invalid/graphql' },
    ]);
    expect(result.errors?.map((error) => error.message)).toBeUndefined();
    const supergraphSdl = result.supergraphSdl!;
    expect(supergraphSdl).toMatch(
      /type Session implements Node\s+@join__implements\(graph: CONVOQL, interface: "Node"\)\s+@join__type\(graph: CONVOQL, key: "id"\)\s+@join__type\(graph: FEEDBACK, key: "id"\)/,
    );
    expect(supergraphSdl).toMatch(/csatScore: Int @join__field\(graph: FEEDBACK\)/);

    const apiSchema = result.schema!.toAPISchema().toGraphQLJSSchema();
    const sessionFields = Object.keys(assertObjectType(apiSchema.getType('Session')).getFields());
    expect(sessionFields).toEqual(expect.arrayContaining(['id', 'sessionId', 'status', 'messages', 'trace', 'csatScore']));
    expect(Object.keys(apiSchema.getQueryType()!.getFields())).toEqual(expect.arrayContaining(['sessions', 'node', 'lowestRatedSessions']));
    // Federation's own fields stay in the subgraphs; clients of the gateway never see them.
    expect(apiSchema.getQueryType()!.getFields()['_entities']).toBeUndefined();
  });
});

describe('gateway over convoql and feedback', () => {
  let feedback: FeedbackSubgraph;
  let gateway: ListeningGraphQLServer;

  const SESSIONS_WITH_SCORES = /* GraphQL */ `
    {
      sessions(first: 3, orderBy: { field: STARTED_AT, direction: ASC }) {
        nodes {
          sessionId
          csatScore
        }
      }
    }
  `;

  beforeAll(async () => {
    feedback = await startFeedbackSubgraph(
      new Map([
        [sessionGid(acmeSessions[0]!), 5],
        [sessionGid(acmeSessions[1]!), 2],
        [sessionGid(globexSession), 1],
      ]),
    );
    gateway = await startGateway([
      { name: 'convoql', url: server.url },
      { name: 'feedback', url: feedback.url },
    ]);
  });

  afterAll(async () => {
    await gateway?.close();
    await feedback?.close();
  });

  it('answers a query spanning both subgraphs, forwarding the API key to each', async () => {
    feedback.receivedAuthorization.length = 0;
    const response = await postGraphQL(gateway.url, SESSIONS_WITH_SCORES, {}, { authorization: `Bearer ${server.apiKey}` });
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      sessions: {
        nodes: [
          { sessionId: 'fed-000', csatScore: 5 },
          { sessionId: 'fed-001', csatScore: 2 },
          { sessionId: 'fed-002', csatScore: null },
        ],
      },
    });
    expect(feedback.receivedAuthorization).toEqual([`Bearer ${server.apiKey}`]);
  });

  it("resolves feedback's Session references through convoql's _entities, within the caller's tenant", async () => {
    const response = await postGraphQL(
      gateway.url,
      '{ lowestRatedSessions(first: 3) { sessionId csatScore } }',
      {},
      { authorization: `Bearer ${server.apiKey}` },
    );
    // globex's session is rated lowest, but for acme it does not exist: null, and no error that would tell.
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      lowestRatedSessions: [null, { sessionId: 'fed-001', csatScore: 2 }, { sessionId: 'fed-000', csatScore: 5 }],
    });
  });

  it("errors with UNAUTHENTICATED from convoql's part without an API key", async () => {
    feedback.receivedAuthorization.length = 0;
    const response = await postGraphQL(gateway.url, SESSIONS_WITH_SCORES);
    expect(response.status).toBe(200);
    expect(response.data).toBeNull();
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    // The plan stopped at convoql's failed fetch, so feedback was never asked.
    expect(feedback.receivedAuthorization).toEqual([]);
  });

  // convoql answers an executed operation with HTTP 200 even when a resolver threw UNAUTHENTICATED; a
  // 401 would make the gateway treat the whole subgraph response as a failed fetch, drop the error's
  // path and partial data, and copy convoql's internal URL and raw body into `extensions.response`.
  it("passes convoql's UNAUTHENTICATED error through with its path and without subgraph internals", async () => {
    const response = await postGraphQL(gateway.url, SESSIONS_WITH_SCORES);
    expect(response.errors).toEqual([
      {
        message: expect.stringContaining('API key'),
        path: ['sessions'],
        extensions: { code: 'UNAUTHENTICATED', serviceName: 'convoql' },
      },
    ]);
  });

  it('errors with UNAUTHENTICATED for an unknown API key', async () => {
    const response = await postGraphQL(gateway.url, SESSIONS_WITH_SCORES, {}, { authorization: 'Bearer cq_unknown' });
    expect(response.data).toBeNull();
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  /**
   * convoql's coded errors as the gateway's client receives them: convoql answers every GraphQL response
   * to the gateway (which accepts application/json) with HTTP 200, so the gateway passes each error on with
   * its message, code and path, instead of "401: Unauthorized" or INTERNAL_SERVER_ERROR for a non-2xx fetch.
   * A new code is one more row: a request that provokes it and what the client must see.
   */
  const CODED_ERRORS: {
    name: string;
    query: string;
    headers: () => Record<string, string>;
    error: { message: string | RegExp; code: string; path?: string[] };
  }[] = [
    {
      name: 'an unknown API key',
      query: SESSIONS_WITH_SCORES,
      headers: () => ({ authorization: 'Bearer cq_unknown' }),
      error: { message: 'The API key is unknown or revoked.', code: 'UNAUTHENTICATED' },
    },
    {
      name: "a key naming another tenant's x-tenant-id",
      query: SESSIONS_WITH_SCORES,
      headers: () => ({ authorization: `Bearer ${server.apiKey}`, 'x-tenant-id': 'globex' }),
      error: { message: 'This API key belongs to another tenant than the one named in x-tenant-id.', code: 'FORBIDDEN' },
    },
    {
      name: 'a key without the read scope',
      query: SESSIONS_WITH_SCORES,
      headers: () => ({ authorization: `Bearer ${writeOnlyKey}` }),
      error: { message: /needs an API key with the "read" scope/, code: 'FORBIDDEN', path: ['sessions'] },
    },
    {
      name: 'a query over the cost limit',
      query: '{ sessions(first: 100) { nodes { messages(last: 100) { nodes { id content } } } } }',
      headers: () => ({ authorization: `Bearer ${server.apiKey}` }),
      error: { message: /^Query cost \d+ exceeds the limit of \d+\./, code: 'QUERY_TOO_COMPLEX' },
    },
    {
      name: 'a key that spent its cost budget',
      query: '{ sessions(first: 100) { nodes { messages(first: 98) { nodes { id } } } } }',
      headers: () => ({ authorization: `Bearer ${spentKey}` }),
      error: {
        message: /^Throttled: this operation costs 19801 points and this API key has \d+ of its 100000 available/,
        code: 'THROTTLED',
      },
    },
    {
      name: 'a page size over 100',
      query: '{ sessions(first: 500) { totalCount } }',
      headers: () => ({ authorization: `Bearer ${server.apiKey}` }),
      error: { message: /first/, code: 'BAD_USER_INPUT', path: ['sessions'] },
    },
  ];

  let writeOnlyKey: string;
  let spentKey: string;
  beforeAll(async () => {
    writeOnlyKey = await server.createKey('acme', ['write']);
    spentKey = await server.createKey('acme', ['read']);
    // Five operations of 19,801 points leave less than one of its 100,000.
    for (let spent = 0; spent < 5; spent++) {
      const response = await server.graphql(
        '{ sessions(first: 100) { nodes { messages(first: 98) { nodes { id } } } } }',
        {},
        { apiKey: spentKey },
      );
      expect(response.extensions?.cost).toMatchObject({ requested: 19801 });
    }
  });

  it.each(CODED_ERRORS)(
    "passes convoql's error for $name to the client with its message, code and path",
    async ({ query, headers, error }) => {
      const response = await postGraphQL(gateway.url, query, {}, headers());
      expect(response.status).toBe(200);
      expect(response.errors).toHaveLength(1);
      const [received] = response.errors!;
      expect(received!.message).toEqual(typeof error.message === 'string' ? error.message : expect.stringMatching(error.message));
      expect(received!.extensions).toMatchObject({ code: error.code, serviceName: 'convoql' });
      // The gateway copies a failed fetch's URL and body into `extensions.response`; a passed-on error has none.
      expect(received!.extensions).not.toHaveProperty('response');
      if (error.path) expect(received!.path).toEqual(error.path);
    },
  );
});
