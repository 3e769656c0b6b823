import { createConfig } from '../../src/config';
import { sessionExpiryJob } from '../../src/sessions/session-expiry.job';
import { revokeApiKey } from '../../src/api-keys/api-key.repository';
import { hashApiKey } from '../../src/api-keys/api-key.secret';
import { at, createMessages, createSession, sessionGid } from '../helpers/factories';
import { connectLive, rawSocket, type TestLiveClient, type TestSubscription } from '../helpers/live';
import { startTestServer, type TestServer } from '../helpers/server';

const MESSAGE_ADDED = `subscription ($id: ID!) { messageAdded(sessionId: $id) { content role session { sessionId messageCount } } }`;
const SESSION_CHANGED = `subscription ($filter: SessionFilter) { sessionChanged(filter: $filter) { changes session { sessionId status channel messageCount } } }`;

let server: TestServer;
const clients: TestLiveClient[] = [];
function live(params: Record<string, unknown> = { authorization: `Bearer ${server.apiKey}` }): TestLiveClient {
  const client = connectLive(server.url, params);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  server = await startTestServer({
    LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
    LIVE_MAX_SUBSCRIPTIONS_PER_KEY: '5',
    LIVE_SEND_QUEUE_LENGTH: '50',
  });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});
afterAll(async () => {
  await server?.close();
});

describe('messageAdded', () => {
  it('delivers each new message of the session in commit order, resolving nested fields through the loaders', async () => {
    const session = await createSession(server.db, { externalId: 'order-1' });
    const subscription = live().subscribe(MESSAGE_ADDED, { id: sessionGid(session) });
    // The subscription is registered once the server answers an event; a first message proves it listens.
    await expectEventually(subscription, async () => createMessages(server.db, session, [{ content: 'warm-up' }]));
    await createMessages(server.db, session, [{ content: 'a' }, { content: 'b' }, { content: 'c' }]);
    for (const content of ['d', 'e']) await createMessages(server.db, session, [{ content, role: 'ASSISTANT' }]);
    const received = [];
    for (let i = 0; i < 5; i++) received.push(await subscription.next());
    expect(received.map((result) => (result.data!.messageAdded as { content: string }).content)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Resolved when delivered: the last message sees the session with all its messages (the warm-up's included).
    const total = await server.db.prisma.message.count({ where: { sessionId: session.id } });
    expect(received[4]!.data).toEqual({
      messageAdded: { content: 'e', role: 'ASSISTANT', session: { sessionId: 'order-1', messageCount: total } },
    });
    expect(received.every((result) => result.errors === undefined)).toBe(true);
  });

  it('reads a batch for messageAdded and sessionChanged, session and count included, in one statement', async () => {
    const session = await createSession(server.db, { externalId: `one-read-${unique()}` });
    const client = live();
    const messages = client.subscribe(MESSAGE_ADDED, { id: sessionGid(session) });
    const changes = client.subscribe(SESSION_CHANGED, { filter: { sessionId: session.externalId } });
    await expectEventually(messages, async () => createMessages(server.db, session, [{ content: 'warm-up' }]));
    await expectEventually(changes, async () => createMessages(server.db, session, [{ content: 'warm-up' }]));
    // Batches are read one after another: once a later message has arrived, no earlier batch is being read. The
    // sessionChanged events of earlier batches, delivered or still to come, count fewer messages than the next one.
    await createMessages(server.db, session, [{ content: 'settled' }]);
    await nextWhere(messages, (result) => JSON.stringify(result).includes('settled'));
    const total = (await server.db.prisma.message.count({ where: { sessionId: session.id } })) + 1;
    changes.buffered.splice(0);
    changes.ignore((later) => (later.data?.sessionChanged as { session: { messageCount: number } }).session.messageCount < total);
    const { result, statements } = await server.db.statements.record(async () => {
      await createMessages(server.db, session, [{ content: 'counted' }]);
      return Promise.all([messages.next(), changes.next()]);
    });
    const expected = { sessionId: session.externalId, messageCount: total };
    expect(result[0].data).toEqual({ messageAdded: { content: 'counted', role: 'USER', session: expected } });
    expect(result[1].data).toMatchObject({ sessionChanged: { changes: ['MESSAGES_ADDED'], session: expected } });
    expect(statements.filter((sql) => /^\s*SELECT/i.test(sql) && !/api_keys/.test(sql))).toHaveLength(1);
  });

  it("yields nothing for another tenant's session, and never another tenant's message", async () => {
    const acmeSession = await createSession(server.db, { externalId: 'acme-secret' });
    const globexSession = await createSession(server.db, { tenantId: 'globex', externalId: 'globex-own' });
    const globexKey = await server.createKey('globex', ['read']);
    const globex = live({ authorization: `Bearer ${globexKey}` });
    const spying = globex.subscribe(MESSAGE_ADDED, { id: sessionGid(acmeSession) });
    const own = globex.subscribe(MESSAGE_ADDED, { id: sessionGid(globexSession) });
    await expectEventually(own, async () => createMessages(server.db, globexSession, [{ content: 'globex warm-up' }]));
    await createMessages(server.db, acmeSession, [{ content: 'acme only' }]);
    // Notifications arrive in commit order: once globex's later message is here, acme's earlier one was not sent.
    await createMessages(server.db, globexSession, [{ content: 'globex later' }]);
    expect((await own.next()).data).toMatchObject({ messageAdded: { content: 'globex later' } });
    expect(spying.buffered).toEqual([]);
  });

  it('refuses a malformed session id with BAD_USER_INPUT', async () => {
    const result = await live().subscribe(MESSAGE_ADDED, { id: 'not-an-id' }).next();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(result)).not.toMatch(/stack|SELECT/);
  });
});

describe('sessionChanged', () => {
  it('reports creation, messages, status changes by the API and by the expiry job, as the filter selects', async () => {
    const subscription = live().subscribe(SESSION_CHANGED, { filter: { channel: ['phone'] } });
    const first = await expectEventually(subscription, async () =>
      createSession(server.db, { externalId: `p-warm-up-${unique()}`, channel: 'phone' }),
    );
    expect(first.data).toEqual({
      sessionChanged: {
        changes: ['CREATED'],
        session: { sessionId: expect.stringMatching(/^p-warm-up-/), status: 'ACTIVE', channel: 'phone', messageCount: 0 },
      },
    });
    // A session the filter does not select is silent; the next one it selects comes first.
    await createSession(server.db, { externalId: 'w-1', channel: 'web' });
    const phone = await createSession(server.db, { externalId: 'p-1', channel: 'phone', lastActivityAt: at(0) });
    expect((await subscription.next()).data).toMatchObject({ sessionChanged: { changes: ['CREATED'], session: { sessionId: 'p-1' } } });

    await createMessages(server.db, phone, [{ content: 'hello' }]);
    expect((await subscription.next()).data).toMatchObject({
      sessionChanged: { changes: ['MESSAGES_ADDED'], session: { sessionId: 'p-1', messageCount: 1 } },
    });

    const closed = await server.graphql(
      `mutation ($id: ID!) { updateSessionStatus(input: { id: $id, status: CLOSED }) { userErrors { code } } }`,
      {
        id: sessionGid(phone),
      },
    );
    expect(closed.data).toEqual({ updateSessionStatus: { userErrors: [] } });
    expect((await subscription.next()).data).toMatchObject({
      sessionChanged: { changes: ['STATUS_CHANGED'], session: { sessionId: 'p-1', status: 'CLOSED' } },
    });

    const idle = await createSession(server.db, { externalId: 'p-idle', channel: 'phone', lastActivityAt: at(-10_000) });
    expect((await subscription.next()).data).toMatchObject({ sessionChanged: { changes: ['CREATED'], session: { sessionId: 'p-idle' } } });
    await sessionExpiryJob(server.db, createConfig({ SESSION_IDLE_TIMEOUT_MINUTES: '30' }), () => at(0)).run();
    const expired = await subscription.next();
    expect(expired.data).toMatchObject({
      sessionChanged: { changes: ['STATUS_CHANGED'], session: { sessionId: idle.externalId, status: 'EXPIRED' } },
    });
  });

  it('serves subscriptions with the same filter alike, one leaving without silencing the others, and tests combined filters', async () => {
    const name = `shared-filter-${unique()}`;
    const filter = { sessionId: name };
    const watcher = live();
    const first = watcher.subscribe(SESSION_CHANGED, { filter });
    const second = watcher.subscribe(SESSION_CHANGED, { filter });
    // A session id and a channel: decided by the sessions list's definition, only for the session with that id.
    const phoneOnly = live().subscribe(SESSION_CHANGED, { filter: { sessionId: name, channel: ['phone'] } });
    const all = live().subscribe(SESSION_CHANGED, {});
    await expectEventually(all, async () => createSession(server.db, { externalId: `all-warm-up-${unique()}` }));
    const session = await createSession(server.db, { externalId: name, channel: 'web' });
    for (const subscription of [first, second])
      expect((await subscription.next()).data).toMatchObject({ sessionChanged: { changes: ['CREATED'], session: { sessionId: name } } });

    first.unsubscribe();
    await createMessages(server.db, session, [{ content: 'after one left' }]);
    expect((await second.next()).data).toMatchObject({
      sessionChanged: { changes: ['MESSAGES_ADDED'], session: { sessionId: name, messageCount: 1 } },
    });
    // Once `all` has seen the later event, the web session's events were not sent to the phone-only subscription.
    await waitFor(() => all.buffered.some((result) => JSON.stringify(result).includes('"messageCount":1')));
    expect(phoneOnly.buffered).toEqual([]);
    expect(first.buffered).toEqual([]);
  });

  it("never shows another tenant's sessions, whatever the filter names", async () => {
    const globexKey = await server.createKey('globex', ['read']);
    const globex = live({ authorization: `Bearer ${globexKey}` }).subscribe(SESSION_CHANGED, { filter: { sessionId: 'shared-name' } });
    const all = live({ authorization: `Bearer ${globexKey}` }).subscribe(SESSION_CHANGED, {});
    await expectEventually(all, async () => createSession(server.db, { tenantId: 'globex', externalId: `globex-warm-up-${unique()}` }));
    await createSession(server.db, { tenantId: 'acme', externalId: 'shared-name' });
    await createSession(server.db, { tenantId: 'globex', externalId: 'shared-name' });
    expect((await globex.next()).data).toMatchObject({ sessionChanged: { session: { sessionId: 'shared-name' } } });
    expect((await all.next()).data).toMatchObject({ sessionChanged: { session: { sessionId: 'shared-name' } } });
    expect(globex.buffered).toEqual([]);
  });
});

describe('authentication and limits', () => {
  it('closes a connection without a valid key with 4403', async () => {
    expect(await live({}).closed).toMatchObject({ code: 4403 });
    expect(await live({ authorization: 'Bearer nope' }).closed).toEqual({ code: 4403, reason: 'The API key is unknown or revoked.' });
  });

  it('applies scopes as queries do: a key without read gets FORBIDDEN', async () => {
    const writeOnly = await server.createKey('acme', ['write']);
    const result = await live({ authorization: `Bearer ${writeOnly}` })
      .subscribe(SESSION_CHANGED)
      .next();
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('closes the sockets of a revoked key', async () => {
    const key = await server.createKey('acme', ['read']);
    const client = live({ authorization: `Bearer ${key}` });
    const subscription = client.subscribe(SESSION_CHANGED);
    await expectEventually(subscription, async () => createSession(server.db, { externalId: `warm-up-revoke-${unique()}` }));
    const row = await server.db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(key) } });
    await revokeApiKey(server.db, row.id);
    expect(await client.closed).toEqual({ code: 4403, reason: 'The API key is unknown or revoked.' });
  });

  it('refuses queries and mutations over WebSocket, and subscriptions over HTTP', async () => {
    const query = await live().subscribe('{ __typename }').next();
    expect(query.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    const overHttp = await server.graphql(SESSION_CHANGED);
    expect(overHttp.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(overHttp.errors?.[0]?.message).toMatch(/WebSocket/);
  });

  it('limits subscriptions per connection and per key with THROTTLED', async () => {
    const key = await server.createKey('acme', ['read']);
    const first = live({ authorization: `Bearer ${key}` });
    const running = [1, 2, 3].map(() => first.subscribe(SESSION_CHANGED));
    await expectEventually(running[2]!, async () => createSession(server.db, { externalId: `warm-up-limit-${unique()}` }));
    const fourth = await first.subscribe(SESSION_CHANGED).next();
    expect(fourth.errors?.[0]?.extensions).toMatchObject({ code: 'THROTTLED', maxSubscriptionsPerConnection: 3 });
    const second = live({ authorization: `Bearer ${key}` });
    const more = [second.subscribe(SESSION_CHANGED), second.subscribe(SESSION_CHANGED)];
    await expectEventually(more[1]!, async () => createSession(server.db, { externalId: `warm-up-limit-b-${unique()}` }));
    const sixth = await second.subscribe(SESSION_CHANGED).next();
    expect(sixth.errors?.[0]?.extensions).toMatchObject({ code: 'THROTTLED', maxSubscriptionsPerKey: 5 });
    // Completing one frees its place.
    running[0]!.unsubscribe();
    await expectEventually(second.subscribe(SESSION_CHANGED), async () =>
      createSession(server.db, { externalId: `warm-up-limit-c-${unique()}` }),
    );
  });

  it('applies the query limits to a subscription', async () => {
    const deep = `subscription { sessionChanged { session { messages(first: 100) { nodes { session { messages(first: 100) { nodes { content } } } } } } } }`;
    const result = await live().subscribe(deep).next();
    expect(result.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });
});

describe('protocol', () => {
  it('closes malformed and out-of-order messages with graphql-ws codes and keeps serving', async () => {
    const garbage = await rawSocket(server.url);
    garbage.socket.send('{not json');
    expect((await garbage.closed).code).toBe(4400);

    const early = await rawSocket(server.url);
    early.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SESSION_CHANGED } }));
    expect((await early.closed).code).toBe(4401);

    const twice = await rawSocket(server.url);
    twice.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.apiKey}` } }));
    twice.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.apiKey}` } }));
    expect((await twice.closed).code).toBe(4429);

    const unknownType = await rawSocket(server.url);
    unknownType.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.apiKey}` } }));
    unknownType.socket.send(JSON.stringify({ type: 'bogus' }));
    expect((await unknownType.closed).code).toBe(4400);

    // The deprecated subscriptions-transport-ws protocol is not accepted.
    await expect(rawSocket(server.url, 'graphql-ws')).rejects.toThrow(/subprotocol/);

    // Still serving.
    const session = await createSession(server.db, { externalId: 'after-garbage' });
    await expectEventually(live().subscribe(MESSAGE_ADDED, { id: sessionGid(session) }), async () =>
      createMessages(server.db, session, [{ content: 'still here warm-up' }]),
    );
  });

  it('closes a consumer that does not read with 4413, and drops its events', async () => {
    const socketClient = await rawSocket(server.url);
    socketClient.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${server.apiKey}` } }));
    // A subscribe before the acknowledgement would be refused (4401).
    await waitFor(() => socketClient.messages.some((message) => (message as { type: string }).type === 'connection_ack'));
    const session = await createSession(server.db, { externalId: 'slow' });
    for (const id of ['1', '2', '3'])
      socketClient.socket.send(
        JSON.stringify({ id, type: 'subscribe', payload: { query: MESSAGE_ADDED, variables: { id: sessionGid(session) } } }),
      );
    // Subscribes are not acknowledged: write until all three subscriptions have received an event.
    const received = (id: string) =>
      socketClient.messages.some(
        (message) => (message as { id?: string; type: string }).type === 'next' && (message as { id: string }).id === id,
      );
    for (let attempt = 0; attempt < 20 && !['1', '2', '3'].every(received); attempt++) {
      await createMessages(server.db, session, [{ content: 'first' }]);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await waitFor(() => ['1', '2', '3'].every(received));
    // Stop reading: the kernel buffers fill, sends stop completing, and events queue up until the limit.
    (socketClient.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(64 * 1024);
    for (let batch = 0; batch < 20; batch++) {
      await createMessages(
        server.db,
        session,
        Array.from({ length: 20 }, () => ({ content: big })),
      );
      const metrics = await (await fetch(server.metricsUrl)).text();
      if (/convoql_live_events_total\{field="any",outcome="dropped"\} [1-9]/.test(metrics)) break;
    }
    (socketClient.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await socketClient.closed).toMatchObject({ code: 4413 });
  });
});

/**
 * Repeats `write` until the subscription sees an event (graphql-ws does not acknowledge a subscribe, so its
 * registration races the first write), returns that event, and discards the events of the other attempts.
 */
async function expectEventually(subscription: TestSubscription, write: () => Promise<unknown>) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await write();
    const result = await subscription.next(attempt < 19 ? 500 : 10_000).catch(() => undefined);
    if (!result) continue;
    // Later events of the warm-up writes (of every attempt) are not the test's.
    subscription.ignore((later) => JSON.stringify(later).includes('warm-up'));
    return result;
  }
  throw new Error('the subscription never saw an event');
}

/** The subscription's next result that `predicate` accepts, skipping the others. */
async function nextWhere(subscription: TestSubscription, predicate: (result: Awaited<ReturnType<TestSubscription['next']>>) => boolean) {
  for (;;) {
    const result = await subscription.next();
    if (predicate(result)) return result;
  }
}

let counter = 0;
function unique(): string {
  return String(++counter);
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!condition()) throw new Error('condition not met within 10 s');
}
