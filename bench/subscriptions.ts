// The subscriptions benchmark (`npm run bench -- --only subscriptions`): one convoql process with 1,000 open
// subscriptions (half messageAdded, half sessionChanged with a sessionId filter) while messages are written with SQL
// at a fixed rate; delivery latency from commit to client, lost and duplicated messageAdded events, peak RSS; the
// sessions table's throughput at 16 connections while the messages are written, with the subscribers and without them
// (before they subscribe and after they leave), in five rounds; then 1,000 idle sockets opened and closed ten times,
// with RSS before and after. BENCH_SUBSCRIPTIONS_CONTROL=1 runs the rounds as a control: the subscribers leave before
// the first round and do not come back, so both segments of a round run without them and the rounds' ratios show the
// spread of the method itself on the machine.
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { createClient, type Client } from 'graphql-ws/client';
import WebSocket from 'ws';
import { toGlobalId } from '../src/graphql/global-id';
import type { BenchDatabase, Fixtures } from './dataset';
import { summarizeCpuProfile } from './cpu-profile';
import { backendCpu, backendCpuBetween } from './database-cpu';
import { runSegment, type SegmentResult } from './load';
import type { BenchOperation } from './operations';
import { sampleRss, type ServerProcess } from './processes';

export const SUBSCRIPTIONS_KEY = 'subscriptions';

const SESSIONS = 500;
const SUBSCRIPTIONS_PER_SOCKET = 50;
const MESSAGES_PER_SECOND = 200;
const TICK_MS = 50;
const IDLE_SOCKETS = 1000;
const IDLE_ROUNDS = 10;
/** Connections of the sessions-table load beside the subscriptions, as the table runs at. */
const TABLE_CONNECTIONS = 16;
/**
 * Rounds of the sessions table with and without the subscribers. Control runs on the 2-core machine (no subscribers in
 * either segment) gave rounds of 0.79–1.20×: five rounds keep one disturbed segment from deciding the median.
 */
const TABLE_ROUNDS = 5;

/** The environment the benchmark's convoql server gets beyond the benchmark's own. */
export const SUBSCRIPTIONS_ENV = {
  COST_BUDGET_MAX: '0',
  LIVE_MAX_SUBSCRIPTIONS_PER_KEY: '5000',
  LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS_PER_SOCKET),
};

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function connect(url: string, apiKey: string): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
  });
}

/** Runs the scenario against a started server; `seconds` of writing at MESSAGES_PER_SECOND. */
export async function runSubscriptions(
  server: ServerProcess,
  database: BenchDatabase,
  fixtures: Fixtures,
  sessionsTable: BenchOperation,
  seconds: number,
  log: (line: string) => void,
  /** Profiles the server while the subscribers receive (no sessions-table load), and prints where its time went. */
  cpuProfile = false,
): Promise<void> {
  const pool = new Pool({ connectionString: database.url, max: 2 });
  const run = randomUUID().slice(0, 8);
  try {
    const sessions = (
      await pool.query<{ id: string; external_id: string }>(
        `INSERT INTO sessions (id, tenant_id, external_id, channel, status, started_at, last_activity_at)
         SELECT gen_random_uuid(), $1, 'bench-live-' || $2 || '-' || i, 'bench-live', 'ACTIVE', now(), now() FROM generate_series(1, $3) i
         RETURNING id, external_id`,
        [fixtures.tenantId, run, SESSIONS],
      )
    ).rows;
    const gid = (id: string) => toGlobalId('Session', id);
    const received = new Map<string, number>();
    const latencies: number[] = [];
    let sessionEvents = 0;
    let errors = 0;
    const clients: Client[] = [];
    let measuring = false;
    const insertMs: number[] = [];
    const written = new Set<string>();
    const perTick = (MESSAGES_PER_SECOND * TICK_MS) / 1000;
    /** Writes MESSAGES_PER_SECOND for `forSeconds`; while measuring, each message is expected by its subscriber. */
    const writeMessages = async (forSeconds: number) => {
      const started = Date.now();
      let tick = 0;
      while (Date.now() - started < forSeconds * 1000) {
        const targets = Array.from({ length: perTick }, (_, i) => sessions[(tick * perTick + i) % sessions.length]!);
        const now = Date.now();
        const rows = await pool.query<{ id: string }>(
          `INSERT INTO messages (id, tenant_id, session_id, role, content, created_at)
           SELECT gen_random_uuid(), $1, s, 'USER', 'sent ' || $2::text, now() FROM unnest($3::uuid[]) s RETURNING id`,
          [fixtures.tenantId, String(now), targets.map((session) => session.id)],
        );
        if (measuring) {
          insertMs.push(Date.now() - now);
          for (const row of rows.rows) written.add(toGlobalId('Message', row.id));
        }
        tick++;
        const next = started + tick * TICK_MS;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
      }
      return (Date.now() - started) / 1000;
    };
    /** CPU of the server and of its PostgreSQL backends per second while `work` runs (ms of CPU per s). */
    const cpuPerSecond = async <T>(
      work: () => Promise<T>,
    ): Promise<{ result: T; server: number | null; database: number | null; statements: number }> => {
      const started = performance.now();
      const statementsBefore = await server.statementCount();
      const serverBefore = server.cpuMs();
      const backendsBefore = await backendCpu(database, server.applicationName);
      const result = await work();
      const elapsed = (performance.now() - started) / 1000;
      const serverAfter = server.cpuMs();
      const databaseMs = backendCpuBetween(backendsBefore, await backendCpu(database, server.applicationName));
      return {
        result,
        server: serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) / elapsed,
        database: databaseMs === null ? null : databaseMs / elapsed,
        statements: ((await server.statementCount()) - statementsBefore) / elapsed,
      };
    };
    const describeCpu = (cpu: { server: number | null; database: number | null; statements: number }) =>
      `server ${cpu.server?.toFixed(0) ?? '–'} ms/s, its PostgreSQL backends ${cpu.database?.toFixed(0) ?? '–'} ms/s, ` +
      `${cpu.statements.toFixed(0)} statements/s`;
    /** The sessions table at TABLE_CONNECTIONS while the messages are written. */
    const tableSegment = async (): Promise<SegmentResult> =>
      (
        await Promise.all([
          runSegment(database, server, sessionsTable, fixtures.apiKey, TABLE_CONNECTIONS, seconds),
          writeMessages(seconds),
        ])
      )[0];
    const throughput = (segment: SegmentResult) => segment.requests / segment.seconds;
    /** With --cpu-prof, a table segment profiled: the two profiles side by side show what the subscribers add per request. */
    const profiled = async (segment: () => Promise<SegmentResult>, title: string): Promise<SegmentResult> => {
      if (!cpuProfile) return segment();
      await server.startProfile();
      const result = await segment();
      log(summarizeCpuProfile(await server.stopProfile(), title, result.requests).text);
      return result;
    };
    // A first segment warms the server (its compiled operations, V8's optimised code, the pools) and is not counted.
    await tableSegment();
    const tableAloneSegment = await tableSegment();
    const tableAlone = throughput(tableAloneSegment);
    // The server's own cost of the writes with nobody subscribed: the notifications it receives and drops.
    const writesAlone = await cpuPerSecond(() => writeMessages(Math.min(seconds, 5)));
    /** Opens the sockets and their subscriptions (half messageAdded, half sessionChanged, one of each per session). */
    const subscribeAll = async () => {
      for (let socket = 0; socket < (SESSIONS * 2) / SUBSCRIPTIONS_PER_SOCKET; socket++) clients.push(connect(server.url, fixtures.apiKey));
      sessions.forEach((session, index) => {
        const client = clients[Math.floor((index * 2) / SUBSCRIPTIONS_PER_SOCKET)]!;
        client.subscribe(
          { query: 'subscription ($id: ID!) { messageAdded(sessionId: $id) { id content } }', variables: { id: gid(session.id) } },
          {
            next: (result) => {
              if (result.errors) errors++;
              const message = (result.data as { messageAdded?: { id: string; content: string } } | null)?.messageAdded;
              if (!message || !measuring) return;
              received.set(message.id, (received.get(message.id) ?? 0) + 1);
              const sent = Number(message.content.split(' ')[1]);
              if (Number.isFinite(sent)) latencies.push(Date.now() - sent);
            },
            error: () => errors++,
            complete: () => undefined,
          },
        );
        client.subscribe(
          {
            query:
              'subscription ($filter: SessionFilter) { sessionChanged(filter: $filter) { changes session { sessionId messageCount } } }',
            variables: { filter: { sessionId: session.external_id } },
          },
          { next: () => void (measuring && sessionEvents++), error: () => errors++, complete: () => undefined },
        );
      });
      // Subscribes are not acknowledged: give them time, then check every session's messageAdded is live.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    };
    const subscriptions = sessions.length * 2;
    const unsubscribeAll = () => Promise.all(clients.splice(0).map((client) => client.dispose()));
    await subscribeAll();
    const rss = sampleRss(server);
    // Stages: the writer's insert round trip (to its commit), the server's own figure (notification received to event
    // sent, its histogram), and this process's event-loop delay (the client's share when the machine is loaded).
    const serverBefore = await deliveryHistogram(server.url);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    measuring = true;
    if (cpuProfile) await server.startProfile();
    const delivering = await cpuPerSecond(() => writeMessages(seconds));
    const elapsed = delivering.result;
    const profile = cpuProfile ? await server.stopProfile() : null;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    measuring = false;
    loopDelay.disable();
    const serverAfter = await deliveryHistogram(server.url);
    const peakRss = rss();
    let lost = 0;
    let duplicated = 0;
    for (const id of written) {
      const count = received.get(id) ?? 0;
      if (count === 0) lost++;
      if (count > 1) duplicated += count - 1;
    }
    latencies.sort((a, b) => a - b);
    log(
      `subscriptions: ${subscriptions} open (${clients.length} sockets), ${written.size} messages written in ${elapsed.toFixed(1)} s ` +
        `(${(written.size / elapsed).toFixed(0)}/s)`,
    );
    log(
      `  messageAdded delivery latency (commit to client) p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, ` +
        `max ${latencies.at(-1)} ms; lost ${lost}, duplicated ${duplicated}; sessionChanged events ${sessionEvents}; errors ${errors}`,
    );
    insertMs.sort((a, b) => a - b);
    log(
      `  stages: insert round trip (to commit) p50 ${percentile(insertMs, 50)} ms, p99 ${percentile(insertMs, 99)} ms; ` +
        `server, notification received to event sent: ${describeHistogram(serverBefore, serverAfter)}; ` +
        `bench client event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, ` +
        `max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    );
    log(`  peak RSS of the server ${peakRss?.toFixed(0)} MB`);
    log(
      `  CPU while ${MESSAGES_PER_SECOND} messages/s are written: ${describeCpu(delivering)} delivering to the subscribers; ` +
        `${describeCpu(writesAlone)} with nobody subscribed`,
    );
    if (profile) log(summarizeCpuProfile(profile, 'convoql CPU profile while delivering (no table load)', written.size).text);
    // The table with the subscribers and after they left, TABLE_ROUNDS times (subscribing again between rounds): each
    // round compares its segment with them to the mean of the segments without them on either side, and the median of
    // the rounds is the figure (one pair of segments moved by a tenth or more between runs on a shared machine).
    const rounds: { with: SegmentResult; after: SegmentResult; ratio: number }[] = [];
    let withoutBefore = tableAloneSegment;
    const control = process.env.BENCH_SUBSCRIPTIONS_CONTROL === '1';
    if (control) await unsubscribeAll();
    for (let round = 0; round < TABLE_ROUNDS; round++) {
      if (round > 0 && !control) await subscribeAll();
      const title = (when: string) => `convoql CPU profile of the sessions table ${when} (round ${round + 1})`;
      const withSegment = round === 0 ? await profiled(tableSegment, title('with the subscribers')) : await tableSegment();
      await unsubscribeAll();
      const afterSegment = round === 0 ? await profiled(tableSegment, title('after they left')) : await tableSegment();
      const ratio = throughput(withSegment) / ((throughput(withoutBefore) + throughput(afterSegment)) / 2);
      rounds.push({ with: withSegment, after: afterSegment, ratio });
      withoutBefore = afterSegment;
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
    log(
      `  sessions table at ${TABLE_CONNECTIONS} connections beside the writes, ` +
        (control
          ? `CONTROL (BENCH_SUBSCRIPTIONS_CONTROL=1: no subscribers in either segment), ${TABLE_ROUNDS} rounds: median ${median.ratio.toFixed(2)}×; `
          : `with the ${subscriptions} subscriptions / without them, ${TABLE_ROUNDS} rounds: median ${median.ratio.toFixed(2)}× (target ≥ 0.9×); `) +
        `${tableAlone.toFixed(0)} req/s before ` +
        `they first subscribed, then ` +
        rounds
          .map(
            (round) =>
              `${throughput(round.with).toFixed(0)} with / ${throughput(round.after).toFixed(0)} after (${round.ratio.toFixed(2)}×)`,
          )
          .join(', '),
    );
    const perRequest = (segment: SegmentResult) =>
      `${segment.cpuMsPerRequest?.toFixed(2) ?? '–'} / ${segment.databaseCpuMsPerRequest?.toFixed(2) ?? '–'} ms`;
    log(
      `    server / PostgreSQL CPU per table request in the median round: ${perRequest(median.with)} with the subscriptions, ` +
        `${perRequest(median.after)} after they left (${perRequest(tableAloneSegment)} before the first round); other processes ` +
        `${median.with.otherCpuPercent?.toFixed(0) ?? '–'} % / ${median.after.otherCpuPercent?.toFixed(0) ?? '–'} % of a core`,
    );

    // Idle sockets: open (connection_init, acknowledged) and close 1,000 ten times. Memory is read after a full garbage
    // collection on both sides: RSS alone also counts garbage not collected yet (one run read 167 → 196 MB without it).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const heapBefore = (await server.collectGarbage()).heapUsed / 2 ** 20;
    const before = server.rssMb();
    for (let round = 0; round < IDLE_ROUNDS; round++) {
      const idle = await Promise.all(
        Array.from(
          { length: IDLE_SOCKETS },
          () =>
            new Promise<WebSocket>((resolve, reject) => {
              const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
              socket.once('open', () =>
                socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${fixtures.apiKey}` } })),
              );
              socket.once('message', () => resolve(socket));
              socket.once('error', reject);
            }),
        ),
      );
      await Promise.all(idle.map((socket) => new Promise((resolve) => (socket.once('close', resolve), socket.close(1000)))));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const heapAfter = (await server.collectGarbage()).heapUsed / 2 ** 20;
    log(
      `  ${IDLE_SOCKETS} idle sockets opened and closed ${IDLE_ROUNDS}x, each reading after a full garbage collection: server RSS ` +
        `${before?.toFixed(0)} MB before, ${server.rssMb()?.toFixed(0)} MB after; V8 heap used ${heapBefore.toFixed(1)} MB before, ` +
        `${heapAfter.toFixed(1)} MB after`,
    );
  } finally {
    await pool.query(`DELETE FROM sessions WHERE external_id LIKE $1`, [`bench-live-${run}-%`]).catch(() => undefined);
    await pool.end();
  }
}

/** The server's messageAdded delivery-latency histogram: cumulative counts by upper bound (seconds). */
async function deliveryHistogram(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const buckets = new Map<string, number>();
  for (const match of text.matchAll(/convoql_live_delivery_latency_seconds_bucket\{([^}]*)\} (\d+)/g)) {
    const le = /le="([^"]+)"/.exec(match[1]!)?.[1];
    if (le !== undefined && match[1]!.includes('field="messageAdded"')) buckets.set(le, Number(match[2]));
  }
  return buckets;
}

/** p50 and p99 of the events observed between two scrapes, as the histogram's bucket bounds. */
function describeHistogram(before: Map<string, number>, after: Map<string, number>): string {
  const bounds = [...after.keys()];
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  if (total === 0) return 'no events';
  const at = (p: number) => {
    const bound = bounds.find((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0) >= total * p);
    return bound === '+Inf' ? '> 2.5 s' : `≤ ${Number(bound) * 1000} ms`;
  };
  return `p50 ${at(0.5)}, p99 ${at(0.99)} (${total} events)`;
}
