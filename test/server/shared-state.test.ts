import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type Redis from 'ioredis';
import { hashApiKey } from '../../src/api-keys/api-key.secret';
import { runCli } from '../helpers/cli';
import { at, createSession } from '../helpers/factories';
import { connectLive } from '../helpers/live';
import {
  deleteKeysUnder,
  describeWithRedis,
  keysUnder,
  redisClient,
  startRedisProxy,
  startServerProcess,
  testKeyPrefix,
  TEST_REDIS_URL,
  type ServerProcess,
} from '../helpers/redis';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

// Two server processes share one database and one Redis: A runs in this Jest worker, B is `node dist/src/main.js` (a
// replica as deployed, with its 30 s key cache). What one admits, registers, computes or revokes, the other sees.

/** A budget of 100 points restoring 1 per second: three operations of 29 fit, a fourth waits 16 s. */
const BUDGET = { COST_BUDGET_MAX: '100', MAX_QUERY_COST: '100', COST_BUDGET_RESTORE_RATE: '1' };
/** Costs 29: 1 for `sessions`, and 14 × (1 for `nodes` + 1 for `id`). */
const PAGE = '{ sessions(first: 14) { nodes { id } } }';
const USAGE = 'query ($filter: UsageFilter) { usage(groupBy: DAY, filter: $filter) { buckets { key sessions } } }';

/** POSTs a raw GraphQL body (persisted-query extensions included) to a server's /graphql. */
async function post(url: string, body: object, apiKey: string): Promise<GraphQLResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

const codesOf = (response: GraphQLResponse) => (response.errors ?? []).map((error) => error.extensions?.code);

/** A pino destination that keeps each JSON line, to count what was logged. */
function logCollector(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url.replace(/\/graphql$/, '/readyz'));
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describeWithRedis('state shared through Redis by two server processes (REDIS_URL)', () => {
  const prefix = testKeyPrefix();
  const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, ...BUDGET };
  let redis: Redis;
  let a: TestServer;
  let b: ServerProcess;

  beforeAll(async () => {
    redis = redisClient();
    // A keeps looked-up keys 30 s, as a deployed server does, so only an announcement can make it refuse one sooner.
    a = await startTestServer(shared, { apiKeyCacheMs: 30_000 });
    b = await startServerProcess(a.database, shared);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
    if (redis) {
      await deleteKeysUnder(redis, prefix);
      redis.disconnect();
    }
  });

  it('admits, from both processes together, what one budget allows', async () => {
    const apiKey = await a.createKey('acme', ['read']);
    const responses: GraphQLResponse[] = [];
    for (let index = 0; index < 8; index++) responses.push(await post(index % 2 === 0 ? a.url : b.url, { query: PAGE }, apiKey));
    const cost = (responses[0]!.extensions!.cost as { requested: number }).requested;
    expect(cost).toBe(29);
    const admitted = responses.filter((response) => response.errors === undefined);
    // 100 points: three operations of 29, wherever they ran; at 1 point per second the fourth fits only after 16 s.
    expect(admitted).toHaveLength(3);
    for (const response of admitted) expect(response.data).toEqual({ sessions: { nodes: [] } });
    for (const response of responses.filter((r) => r.errors !== undefined)) expect(codesOf(response)).toEqual(['THROTTLED']);
    // Both processes refused (B among the throttled answers as well as A), and both report the shared bucket.
    expect(responses.slice(3).every((response) => codesOf(response)[0] === 'THROTTLED')).toBe(true);
    const last = responses.at(-1)!.extensions!.cost as { throttleStatus: { currentlyAvailable: number } };
    expect(last.throttleStatus.currentlyAvailable).toBeLessThan(29);
    expect(await keysUnder(redis, `${prefix}budget:`)).toHaveLength(1);
  });

  it('serves on one process an automatic persisted query registered on the other', async () => {
    const query = '{ viewer { tenant { id } } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const persistedQuery = { version: 1, sha256Hash };
    const unknown = await post(b.url, { extensions: { persistedQuery } }, a.apiKey);
    expect(codesOf(unknown)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const registered = await post(a.url, { query, extensions: { persistedQuery } }, a.apiKey);
    expect(registered.data).toEqual({ viewer: { tenant: { id: 'acme' } } });
    const used = await post(b.url, { extensions: { persistedQuery } }, a.apiKey);
    expect(used.errors).toBeUndefined();
    expect(used.data).toEqual({ viewer: { tenant: { id: 'acme' } } });
    expect(await redis.get(`${prefix}apq:${sha256Hash}`)).toBe(query);
  });

  it('shares usage results: one process answers what the other computed, for USAGE_CACHE_SECONDS', async () => {
    const filter = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-08T00:00:00.000Z' };
    await createSession(a.db, { startedAt: at(0) });
    const first = await post(a.url, { query: USAGE, variables: { filter } }, a.apiKey);
    expect(first.data).toEqual({ usage: { buckets: [{ key: '2026-11-01', sessions: 1 }] } });
    expect(await keysUnder(redis, `${prefix}usage:acme:`)).toHaveLength(1);
    // A session written since is not in B's answer: B reused A's result instead of running its own statement.
    await createSession(a.db, { startedAt: at(1) });
    const second = await post(b.url, { query: USAGE, variables: { filter } }, a.apiKey);
    expect(second.data).toEqual(first.data);
    // Another tenant asking the same is answered from its own data, never from acme's shared result.
    const globexKey = await a.createKey('globex', ['read']);
    expect((await post(b.url, { query: USAGE, variables: { filter } }, globexKey)).data).toEqual({ usage: { buckets: [] } });
    // Another range is computed afresh, and sees it.
    const fresh = await post(b.url, { query: USAGE, variables: { filter: { ...filter, to: '2026-11-09T00:00:00.000Z' } } }, a.apiKey);
    expect(fresh.data).toEqual({ usage: { buckets: [{ key: '2026-11-01', sessions: 2 }] } });
  });

  it('refuses a revoked key on every process at once, and closes its WebSockets', async () => {
    const apiKey = await a.createKey('acme', ['read']);
    const { id } = (await a.db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(apiKey) } })) as { id: string };
    // Both processes have the key in their 30 s caches.
    for (const url of [a.url, b.url]) expect((await post(url, { query: '{ viewer { key { name } } }' }, apiKey)).errors).toBeUndefined();
    const live = connectLive(a.url, { authorization: `Bearer ${apiKey}` });
    // Acknowledged: the server holds the socket as the key's.
    await new Promise((resolve) => live.client.on('connected', resolve));
    const subscription = live.subscribe('subscription { sessionChanged { changes } }');

    const revoked = await runCli(['apikey', 'revoke', id], {
      DATABASE_URL: a.database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
    });
    expect(revoked.stderr).toBe('');
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked ${id} .*Servers sharing Redis stop accepting it now \\((\\d+) told\\)\\.\\n$`));
    for (const url of [a.url, b.url]) {
      const refused = await post(url, { query: '{ viewer { key { name } } }' }, apiKey);
      expect(refused.data ?? null).toBeNull();
      expect(codesOf(refused)).toEqual(['UNAUTHENTICATED']);
    }
    expect(await live.closed).toEqual({ code: 4403, reason: 'The API key was revoked.' });
    subscription.unsubscribe();
    await live.dispose();
    // Another key is untouched.
    expect((await post(b.url, { query: '{ viewer { key { name } } }' }, a.apiKey)).errors).toBeUndefined();
  });
});

describeWithRedis('a Redis that does not answer (REDIS_URL set)', () => {
  const prefix = testKeyPrefix();
  let redis: Redis;

  beforeAll(() => {
    redis = redisClient();
  });
  afterAll(async () => {
    await deleteKeysUnder(redis, prefix);
    redis.disconnect();
  });

  it('serves with per-process state from the start, says so on /readyz, and logs it once', async () => {
    const proxy = await startRedisProxy();
    await proxy.cut(); // A port nothing listens on.
    const log = logCollector();
    const server = await startTestServer(
      { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'info', ...BUDGET },
      { logDestination: log.stream },
    );
    try {
      const apiKey = await server.createKey('acme', ['read']);
      const responses: GraphQLResponse[] = [];
      for (let index = 0; index < 5; index++) responses.push(await server.graphql(PAGE, {}, { apiKey }));
      // The budget is this process's own: still three of 29 out of 100.
      expect(responses.map((response) => codesOf(response)[0] ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'THROTTLED', 'THROTTLED']);
      const query = '{ viewer { tenant { id } } }';
      const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
      expect((await post(server.url, { query, extensions: { persistedQuery } }, apiKey)).data).toEqual({
        viewer: { tenant: { id: 'acme' } },
      });
      expect((await post(server.url, { extensions: { persistedQuery } }, apiKey)).data).toEqual({ viewer: { tenant: { id: 'acme' } } });
      const ready = await readyz(server.url);
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({
        status: 'degraded',
        degraded: { redis: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+ does not answer \(.+\); cost budgets/) },
      });
      const about = log.lines.filter((line) => /Redis/.test(String(line.msg)));
      expect(about.map((line) => [line.level, String(line.msg).split(':')[0]])).toEqual([[40, 'Redis is unreachable']]);
      expect(await (await fetch(server.metricsUrl)).text()).toMatch(/^convoql_redis_up 0$/m);

      // A revocation is still made, in the database; the command says that servers were not told.
      const { id } = await server.db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(apiKey) }, select: { id: true } });
      const revoked = await runCli(['apikey', 'revoke', id], { DATABASE_URL: server.database.url, REDIS_URL: proxy.url });
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toBe(
        `Redis (REDIS_URL) did not answer, so the servers were not told.\nRevoked ${id} (${apiKey.slice(0, 11)}…). Servers stop accepting it within 30 seconds.\n`,
      );
      expect(codesOf(await server.graphql('{ viewer { key { name } } }', {}, { apiKey }))).toEqual(['UNAUTHENTICATED']);
    } finally {
      await server.close();
      await proxy.close();
    }
  });

  it('answers every request when Redis stops answering mid-run: a command waits at most REDIS_COMMAND_TIMEOUT_MS, once', async () => {
    const proxy = await startRedisProxy();
    const log = logCollector();
    const server = await startTestServer(
      { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: '1000', LOG_LEVEL: 'info' },
      { logDestination: log.stream },
    );
    try {
      expect(await readyz(server.url)).toEqual({ status: 200, body: { status: 'ready' } });
      proxy.stall();
      // The first budget command times out; from then on Redis counts as down and is not asked until it answers again.
      for (let index = 0; index < 10; index++) {
        const response = await server.graphql('{ viewer { tenant { id } } }');
        expect(response.errors).toBeUndefined();
        expect(response.data).toEqual({ viewer: { tenant: { id: 'acme' } } });
      }
      expect((await readyz(server.url)).body).toEqual({
        status: 'degraded',
        degraded: { redis: expect.stringMatching(/does not answer \(.+\)/) },
      });
      const about = log.lines.filter((line) => /Redis/.test(String(line.msg))).map((line) => String(line.msg).split(':')[0]);
      expect(about).toEqual(['Redis answers', 'Redis is unreachable']);
    } finally {
      await server.close();
      await proxy.close();
    }
  });

  it('falls back when Redis goes away mid-run, logs it once, and shares again once it answers', async () => {
    const proxy = await startRedisProxy();
    const log = logCollector();
    const environment = { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'info' };
    const server = await startTestServer(environment, { logDestination: log.stream });
    const other = await startTestServer({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix }, { database: server.database });
    try {
      expect(await readyz(server.url)).toEqual({ status: 200, body: { status: 'ready' } });
      await proxy.cut();
      for (let index = 0; index < 5; index++) {
        const response = await server.graphql('{ viewer { tenant { id } } }');
        expect(response.errors).toBeUndefined();
        expect(response.data).toEqual({ viewer: { tenant: { id: 'acme' } } });
      }
      expect((await readyz(server.url)).body).toMatchObject({ status: 'degraded', degraded: { redis: expect.any(String) } });

      await proxy.restore();
      let ready = await readyz(server.url);
      for (let attempt = 0; attempt < 100 && ready.body.status !== 'ready'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ready = await readyz(server.url);
      }
      expect(ready).toEqual({ status: 200, body: { status: 'ready' } });
      expect(await (await fetch(server.metricsUrl)).text()).toMatch(/^convoql_redis_up 1$/m);
      // Shared again: a query registered on another process is known here.
      const query = '{ viewer { key { name } } }';
      const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
      expect((await post(other.url, { query, extensions: { persistedQuery } }, server.apiKey)).errors).toBeUndefined();
      expect((await post(server.url, { extensions: { persistedQuery } }, server.apiKey)).errors).toBeUndefined();

      const about = log.lines.filter((line) => /Redis/.test(String(line.msg))).map((line) => String(line.msg).split(':')[0]);
      expect(about).toEqual(['Redis answers', 'Redis is unreachable', 'Redis answers again']);
    } finally {
      await other.close();
      await server.close();
      await proxy.close();
    }
  });
});
