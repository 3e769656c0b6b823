import { randomUUID } from 'node:crypto';
import { toGlobalId } from '../../src/graphql/global-id';
import { conversationSyncConfigOf, syncConversations } from '../../src/conversations/conversation.sync';
import {
  extendLangGraphFixture,
  writeLangGraphFixtures,
  NODE_ERROR_MESSAGE,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { createConversations } from '../helpers/factories';
import { connectLive, type TestLiveClient, type TestSubscription } from '../helpers/live';
import { startTestServer, type TestServer } from '../helpers/server';

// conversationChanged and replayTail through graphql-ws, fed by LangGraph's own writes (real PostgresSaver runs), on
// two servers sharing one database: the writes come from neither server, and each subscriber's server learns of them
// from the database's notifications.
const REPLAY_TAIL = `subscription ($id: ID!, $after: String) {
  replayTail(conversationId: $id, after: $after) { cursor node { ordinal type checkpointId messageId content toolName } }
}`;
const CONVERSATION_CHANGED = `subscription ($filter: ConversationFilter) {
  conversationChanged(filter: $filter) { changes conversation { id threadId status stepCount pendingInterrupts { value } lastError { message } } }
}`;
const REPLAY_PAGE = `query ($id: ID!, $after: String) {
  conversation(id: $id) { replay(first: 100, after: $after) {
    edges { cursor node { ordinal type checkpointId messageId content toolName } } pageInfo { hasNextPage endCursor } } }
}`;

interface ReplayPage {
  conversation: { replay: { edges: Edge[]; pageInfo: { hasNextPage: boolean; endCursor: string } } };
}

interface Edge {
  cursor: string;
  node: { ordinal: number; type: string };
}

let server: TestServer;
let other: TestServer;
let url: string;
const saverOptions = () => ({ singleConnection: !process.env.TEST_DATABASE_URL });
let threads: Record<FixtureName, string>;
const ids = {} as Record<'longThread' | 'interruptPending', string>;
const clients: TestLiveClient[] = [];

function live(target: TestServer, key: string): TestLiveClient {
  const client = connectLive(target.url, { authorization: `Bearer ${key}` });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  server = await startTestServer({ CONVERSATION_DEFAULT_TENANT: 'acme', LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: '3' });
  // A second server (own pool, own listener) on the same database, as a replica.
  other = await startTestServer({ CONVERSATION_DEFAULT_TENANT: 'acme' }, { database: server.database });
  url = server.config.database.url as string;
  ({ threads } = await writeLangGraphFixtures(url, { ...saverOptions(), only: ['longThread', 'interruptPending'] }));
  const summary = await syncConversations(server.db, conversationSyncConfigOf(server.config));
  expect(summary.failures).toEqual([]);
  expect(summary).toMatchObject({ created: 2, failed: 0 });
  const listed = await server.graphql<{ conversations: { nodes: { id: string; threadId: string }[] } }>(
    '{ conversations(first: 100) { nodes { id threadId } } }',
  );
  for (const name of ['longThread', 'interruptPending'] as const)
    ids[name] = listed.data!.conversations.nodes.find((node) => node.threadId === threads[name])!.id;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});
afterAll(async () => {
  await other?.close();
  await server?.close();
});

/** Every edge of a conversation's replay, read through the query. */
async function replayEdges(id: string): Promise<Edge[]> {
  const edges: Edge[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await server.graphql<ReplayPage>(REPLAY_PAGE, { id, after });
    const replay: ReplayPage['conversation']['replay'] = page.data!.conversation.replay;
    edges.push(...replay.edges);
    if (!replay.pageInfo.hasNextPage) return edges;
    after = replay.pageInfo.endCursor;
  }
}

/** Reads `count` results of a subscription. */
async function take(subscription: TestSubscription, count: number, timeoutMs = 60_000): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (let i = 0; i < count; i++) {
    const result = await subscription.next(timeoutMs);
    expect(result.errors).toBeUndefined();
    edges.push(result.data!.replayTail as Edge);
  }
  return edges;
}

describe('replayTail', () => {
  it('catches up after the cursor, then follows LangGraph as it writes, without gap or repeat, on another server', async () => {
    const before = await replayEdges(ids.longThread);
    const after = before[9]!;
    // The subscriber is on the other server; LangGraph writes meanwhile, racing the catch-up read.
    const subscription = live(other, server.apiKey).subscribe(REPLAY_TAIL, { id: ids.longThread, after: after.cursor });
    const writing = extendLangGraphFixture(url, 'longThread', threads.longThread, 3, saverOptions());
    const caughtUp = await take(subscription, before.length - 10);
    await writing;
    const all = await replayEdges(ids.longThread);
    expect(all.length).toBeGreaterThan(before.length);
    const followed = await take(subscription, all.length - before.length);
    const tail = [...caughtUp, ...followed];
    // Exactly the replay's edges after the cursor, in order, with the same cursors and steps.
    expect(tail.map((edge) => edge.node.ordinal)).toEqual(all.slice(10).map((edge) => edge.node.ordinal));
    expect(tail).toEqual(all.slice(10));
    // Nothing more (no repeat) once the agent stopped writing.
    await expect(subscription.next(1_500)).rejects.toThrow(/no subscription event/);
  });

  it('starts from the first step without a cursor, and each new step of a resumed run follows', async () => {
    const before = await replayEdges(ids.interruptPending);
    const subscription = live(server, server.apiKey).subscribe(REPLAY_TAIL, { id: ids.interruptPending });
    expect(await take(subscription, before.length)).toEqual(before);
    await extendLangGraphFixture(url, 'interruptPending', threads.interruptPending, 0, saverOptions());
    const all = await replayEdges(ids.interruptPending);
    const resumed = await take(subscription, all.length - before.length);
    expect(resumed).toEqual(all.slice(before.length));
    expect(resumed.map((edge) => edge.node.type)).toContain('RESUME');
  });

  it("yields nothing for another tenant's conversation", async () => {
    const globexKey = await server.createKey('globex', ['read']);
    const spying = live(server, globexKey).subscribe(REPLAY_TAIL, { id: ids.longThread });
    const own = live(server, server.apiKey).subscribe(REPLAY_TAIL, { id: ids.longThread });
    // Once acme's tail has sent the whole replay, globex's (subscribed before it) had its chance.
    const total = (await replayEdges(ids.longThread)).length;
    await take(own, total);
    await extendLangGraphFixture(url, 'longThread', threads.longThread, 1, saverOptions());
    await take(own, (await replayEdges(ids.longThread)).length - total);
    expect(spying.buffered).toEqual([]);
  });

  it('refuses a malformed conversation id or cursor with BAD_USER_INPUT', async () => {
    const client = live(server, server.apiKey);
    const badId = await client.subscribe(REPLAY_TAIL, { id: 'not-an-id' }).next();
    expect(badId.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const badCursor = await client.subscribe(REPLAY_TAIL, { id: ids.longThread, after: 'garbage' }).next();
    expect(badCursor.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // A cursor of another conversation's replay is not one of this list's.
    const foreign = (await replayEdges(ids.interruptPending))[0]!.cursor;
    const otherList = await client.subscribe(REPLAY_TAIL, { id: ids.longThread, after: foreign }).next();
    expect(otherList.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(JSON.stringify([badId, badCursor, otherList])).not.toMatch(/stack|SELECT|INTERNAL/);
  });

  it('counts toward the subscriptions of a connection', async () => {
    const client = live(server, server.apiKey);
    const running = [1, 2, 3].map(() => client.subscribe(REPLAY_TAIL, { id: ids.interruptPending }));
    for (const subscription of running) await take(subscription, 1);
    const fourth = await client.subscribe(REPLAY_TAIL, { id: ids.interruptPending }).next();
    expect(fourth.errors?.[0]?.extensions).toMatchObject({ code: 'THROTTLED', maxSubscriptionsPerConnection: 3 });
  });
});

describe('conversationChanged', () => {
  /** Creates conversation rows until the subscription sees one (a subscribe is not acknowledged), then ignores them. */
  async function registered(subscription: TestSubscription, tenantId = 'acme', status: 'IDLE' | 'ERROR' = 'IDLE'): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      await createConversations(server.db, 1, () => ({ tenantId, status, threadId: `warm-up-${randomUUID()}` }));
      if (await subscription.next(500).catch(() => undefined)) {
        subscription.ignore((result) => JSON.stringify(result).includes('warm-up-'));
        return;
      }
    }
    throw new Error('the subscription never saw an event');
  }

  it('reports new threads, a failure, an interrupt and its answer, as LangGraph writes them, on either server', async () => {
    type Event = { changes: string[]; conversation: { threadId: string; status: string } };
    const onOther = live(other, server.apiKey).subscribe(CONVERSATION_CHANGED, {});
    const failures = live(server, server.apiKey).subscribe(CONVERSATION_CHANGED, { filter: { status: ['ERROR'] } });
    await registered(onOther);
    await registered(failures, 'acme', 'ERROR');
    // New threads, one failing, one interrupted: seen without the sync job (it is off in tests).
    const { threads: written } = await writeLangGraphFixtures(url, { ...saverOptions(), only: ['nodeError', 'interruptPending'] });
    // The thread's CREATED and FAILED come as one event when committed within one delivery, else as two (each with the
    // row as it is when delivered, so the first may already show ERROR): the FAILED one is at most the second.
    let failed = await failures.next(30_000);
    if (!(failed.data?.conversationChanged as Event | undefined)?.changes.includes('FAILED')) failed = await failures.next(30_000);
    expect(failed.data).toMatchObject({
      conversationChanged: {
        conversation: { threadId: written.nodeError, status: 'ERROR', lastError: { message: NODE_ERROR_MESSAGE } },
      },
    });
    expect((failed.data!.conversationChanged as Event).changes).toContain('FAILED');
    const seen: Event[] = [];
    const until = async (done: () => boolean) => {
      while (!done()) seen.push((await onOther.next(30_000)).data!.conversationChanged as Event);
    };
    const of = (threadId: string) => seen.filter((event) => event.conversation.threadId === threadId);
    await until(() => of(written.nodeError).some((event) => event.changes.includes('FAILED')));
    await until(() => of(written.interruptPending).some((event) => event.changes.includes('INTERRUPTED')));
    expect(of(written.nodeError).flatMap((event) => event.changes)).toContain('CREATED');
    expect(of(written.interruptPending).flatMap((event) => event.changes)).toContain('CREATED');
    expect(of(written.interruptPending).at(-1)!.conversation.status).toBe('INTERRUPTED');

    // The interrupt answered: LangGraph resumes and finishes the run.
    await extendLangGraphFixture(url, 'interruptPending', written.interruptPending, 0, saverOptions());
    const answered = seen.length;
    await until(() => seen.slice(answered).some((event) => event.changes.includes('RESUMED')));
    await until(() => of(written.interruptPending).at(-1)!.conversation.status === 'IDLE');
    expect(seen.slice(answered).every((event) => event.conversation.threadId === written.interruptPending)).toBe(true);
    // The failure was announced once to the ERROR filter; nothing else matched it.
    expect(failures.buffered).toEqual([]);
  });

  it("never shows another tenant's threads, whatever the filter names", async () => {
    const globexKey = await server.createKey('globex', ['read']);
    const globex = live(server, globexKey).subscribe(CONVERSATION_CHANGED, {});
    const acme = live(server, server.apiKey).subscribe(CONVERSATION_CHANGED, {});
    await registered(globex, 'globex');
    await registered(acme);
    const { threads: written } = await writeLangGraphFixtures(url, { ...saverOptions(), only: ['plainChat'] });
    // acme may still hear of its threads written by the tests before (a late sync pass); it must hear of this one.
    const threadOf = (result: { data?: unknown }) =>
      (result.data as { conversationChanged?: { conversation?: { threadId?: string } } } | undefined)?.conversationChanged?.conversation
        ?.threadId;
    let heard = await acme.next(30_000);
    while (threadOf(heard) !== written.plainChat) heard = await acme.next(30_000);
    expect(heard.errors).toBeUndefined();
    // A later globex change arrives; acme's thread (announced before it) was never sent.
    const [own] = await createConversations(server.db, 1, () => ({ tenantId: 'globex', threadId: `globex-own-${randomUUID()}` }));
    const event = await globex.next(30_000);
    expect(event.data).toMatchObject({
      conversationChanged: { changes: ['CREATED'], conversation: { id: toGlobalId('Conversation', own!.id) } },
    });
    expect(globex.buffered).toEqual([]);
  });

  it('refuses an invalid filter with BAD_USER_INPUT', async () => {
    const result = await live(server, server.apiKey)
      .subscribe(CONVERSATION_CHANGED, { filter: { createdAfter: '2026-12-02T00:00:00.000Z', createdBefore: '2026-12-01T00:00:00.000Z' } })
      .next();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('with the checkpoint triggers disabled', () => {
  it("follows the agent at the conversation sync's passes instead", async () => {
    const tail = live(server, server.apiKey);
    const before = await replayEdges(ids.longThread);
    const subscription = tail.subscribe(REPLAY_TAIL, { id: ids.longThread, after: before.at(-1)!.cursor });
    const changed = tail.subscribe(CONVERSATION_CHANGED, { filter: { metadata: null } });
    // Both are registered once the conversation subscription sees an event (a warm-up row's).
    for (let attempt = 0; attempt < 20; attempt++) {
      await createConversations(server.db, 1, () => ({ threadId: `warm-up-${randomUUID()}` }));
      if (await changed.next(500).catch(() => undefined)) break;
    }
    changed.ignore((result) => JSON.stringify(result).includes('warm-up-'));
    await server.db.prisma.$executeRawUnsafe('ALTER TABLE checkpoints DISABLE TRIGGER checkpoints_live');
    await server.db.prisma.$executeRawUnsafe('ALTER TABLE checkpoint_writes DISABLE TRIGGER checkpoint_writes_live');
    try {
      await extendLangGraphFixture(url, 'longThread', threads.longThread, 1, saverOptions());
      // Nothing announces LangGraph's writes now; the sync job's pass does.
      await expect(subscription.next(1_000)).rejects.toThrow(/no subscription event/);
      // (Threads of earlier tests that changed without a conversation subscriber are synced by this pass too.)
      changed.ignore((result) => !JSON.stringify(result).includes(threads.longThread));
      const pass = await syncConversations(server.db, conversationSyncConfigOf(server.config));
      expect(pass).toMatchObject({ failed: 0 });
      expect(pass.updated).toBeGreaterThanOrEqual(1);
      expect((await changed.next(30_000)).data).toMatchObject({
        conversationChanged: { changes: ['ADVANCED'], conversation: { threadId: threads.longThread } },
      });
      const all = await replayEdges(ids.longThread);
      expect(await take(subscription, all.length - before.length)).toEqual(all.slice(before.length));
    } finally {
      await server.db.prisma.$executeRawUnsafe('ALTER TABLE checkpoints ENABLE TRIGGER checkpoints_live');
      await server.db.prisma.$executeRawUnsafe('ALTER TABLE checkpoint_writes ENABLE TRIGGER checkpoint_writes_live');
    }
  });
});
