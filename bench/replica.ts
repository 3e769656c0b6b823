// The read-replica scenario (`npm run bench -- --only replica`): what the dashboards' heavy reads cost the primary once
// they are served from a streaming replica, and how far the replica lags under the agents' writes.
//
// - Databases: BENCH_DATABASE_URL (primary) and BENCH_DATABASE_READ_URL (its streaming replica) when both are set, both
//   on this machine (their CPU is read from /proc); otherwise a throwaway primary + replica made by
//   bench/replica-cluster.ts (fsync on), seeded with the run's dataset (use --quick), removed afterwards.
// - Agent writes: a LangGraph-like load on the primary, as PostgresSaver writes a step: in one transaction a
//   checkpoint_blobs row and a checkpoints row, then the step's two checkpoint_writes rows; at a fixed rate
//   (BENCH_REPLICA_WRITES_PER_SECOND, default 100 steps/s) over 4 connections with application_name
//   `bench-agent-writes`, so every phase does the same work.
// - Dashboard load: the usage tiles (30 days by day) and searchMessages ("garage", 50 newest) at 8 connections each
//   against one convoql server with DATABASE_READ_URL set, so they read from the replica (its /metrics is read to check).
// - Phases alternate A (writes alone), B (writes + dashboard on the replica) and C (writes + the same dashboard requests
//   sent with `x-convoql-consistency: primary`: what the primary pays without a replica), twice. The primary's CPU per
//   step is read from /proc for the writers' own backends and for every process of the primary (pg_stat_activity lists
//   its background processes and WAL sender too). The replica's lag is sampled every 250 ms: bytes of WAL not yet
//   replayed (pg_current_wal_lsn() on the primary minus pg_last_wal_replay_lsn()) and
//   now() - pg_last_xact_replay_timestamp().
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'pg';
import { processCpuMs } from './database-cpu';
import { loadFixtures, openBenchDatabase, prepareDataset, withClient, type BenchDatabase, type Fixtures } from './dataset';
import { runSegment, quantile, type SegmentResult } from './load';
import { buildOperations, loadDashboardDocuments, requestBody, type BenchOperation } from './operations';
import type { BenchOptions } from './options';
import { npmStartCommand, startServerProcess, type ServerProcess } from './processes';
import { startReplicaCluster, type ReplicaCluster } from './replica-cluster';
import { round, writeResults } from './report';

/** `--only replica`. */
export const REPLICA_KEY = 'replica';
const WRITER_APPLICATION = 'bench-agent-writes';
const CONVOQL_APPLICATION = 'convoql-bench-replica';
const WRITER_CONNECTIONS = 4;

const PHASES = ['writes alone', 'writes + dashboard on the replica', 'writes + dashboard on the primary'] as const;
type Phase = (typeof PHASES)[number];

/** One phase's figures. */
interface PhaseResult {
  phase: Phase;
  seconds: number;
  steps: number;
  stepsPerSecond: number;
  /** CPU of the writers' own backends per step, ms. */
  writerCpuMsPerStep: number | null;
  /** CPU of every process of the primary per step, ms (the dashboard's primary work included: key lookups). */
  primaryCpuMsPerStep: number | null;
  /** CPU of every process of the replica, ms per second. */
  replicaCpuMsPerSecond: number | null;
  lagBytes: { p50: number | null; p95: number | null; max: number | null };
  lagMs: { p50: number | null; p95: number | null; max: number | null };
  dashboard: { requestsPerSecond: number; errors: number; p50Ms: number | null }[] | null;
}

/** Runs the scenario and prints its table; see the module comment. */
export async function runReplicaBench(projectRoot: string, options: BenchOptions, log: (line: string) => void): Promise<void> {
  const started = performance.now();
  const readUrl = process.env.BENCH_DATABASE_READ_URL || undefined;
  let cluster: ReplicaCluster | undefined;
  let primaryUrl: string;
  let replicaUrl: string;
  if (readUrl && options.databaseUrl) {
    primaryUrl = options.databaseUrl;
    replicaUrl = readUrl;
    log(`replica: primary ${redact(primaryUrl)}, replica ${redact(replicaUrl)}`);
  } else {
    if (readUrl) log('replica: BENCH_DATABASE_READ_URL needs BENCH_DATABASE_URL (its primary); using a throwaway pair instead');
    log('replica: creating a throwaway primary + streaming replica (initdb, pg_basebackup -R)…');
    cluster = await startReplicaCluster({ durable: true, settings: { max_connections: '100', shared_buffers: '128MB' } });
    primaryUrl = cluster.primaryUrl;
    replicaUrl = cluster.replicaUrl;
  }
  const servers: ServerProcess[] = [];
  try {
    const database = await openBenchDatabase(primaryUrl, options.dataset, projectRoot);
    await prepareDataset(database, options.dataset, options.reseed, log);
    const fixtures = await loadFixtures(database, options.dataset);
    await waitForReplay(primaryUrl, replicaUrl);
    await prepareAgentTables(primaryUrl);
    await waitForReplay(primaryUrl, replicaUrl);

    const convoql = await startServerProcess(projectRoot, {
      name: 'convoql (reads on the replica)',
      applicationName: CONVOQL_APPLICATION,
      ...npmStartCommand(projectRoot),
      env: {
        NODE_ENV: 'production',
        DATABASE_URL: withApplicationName(primaryUrl, CONVOQL_APPLICATION),
        DATABASE_READ_URL: withApplicationName(replicaUrl, CONVOQL_APPLICATION),
        DB_POOL_MAX: '10',
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
        SESSION_EXPIRY_INTERVAL_SECONDS: '0',
        CONVERSATION_SYNC_INTERVAL_SECONDS: '0',
        COST_BUDGET_MAX: '0',
        // Every usage request computes its figures, as distinct dashboards' ranges would.
        USAGE_CACHE_SECONDS: '0',
      },
      readyPath: '/healthz',
      graphqlPath: '/graphql',
    });
    servers.push(convoql);
    const tiles = dashboardTiles(projectRoot, fixtures);
    const rate = Number(process.env.BENCH_REPLICA_WRITES_PER_SECOND) || 100;
    const seconds = Math.max(options.quick ? 8 : 15, options.segmentSeconds * 2);
    const replicaDb: BenchDatabase = { kind: 'postgresql', url: replicaUrl, poolMax: 10, stop: async () => undefined };
    // Warm-up: both tiles once, writes for 2 s.
    for (const tile of tiles) await runSegment(replicaDb, convoql, tile, fixtures.apiKey, 2, 1);
    const writer = new AgentWriter(primaryUrl, fixtures.tenantId);
    try {
      await writer.run(rate, 2);
      const phases: PhaseResult[] = [];
      // The same tiles with x-convoql-consistency: primary: what the primary would pay without the replica.
      const onPrimary = tiles.map((tile) => ({ ...tile, headers: { 'x-convoql-consistency': 'primary' } }));
      for (let pass = 0; pass < 2; pass++) {
        for (const phase of PHASES) {
          log(`replica: ${phase}, ${seconds} s at ${rate} steps/s`);
          const dashboard =
            phase === 'writes alone'
              ? null
              : { convoql, tiles: phase === 'writes + dashboard on the replica' ? tiles : onPrimary, fixtures, replicaDb };
          phases.push(await runPhase(primaryUrl, replicaUrl, writer, rate, seconds, phase, dashboard));
          await waitForReplay(primaryUrl, replicaUrl);
        }
      }
      const reads = await replicaReads(convoql);
      printAndSave(projectRoot, phases, reads, { rate, seconds, dataset: options.dataset, throwaway: cluster !== undefined, started }, log);
    } finally {
      await writer.close();
    }
  } finally {
    for (const server of servers) await server.stop();
    await cluster?.close();
  }
}

/** The dashboard's two heavy tiles, both read from the replica. */
function dashboardTiles(projectRoot: string, fixtures: Fixtures): BenchOperation[] {
  const documents = loadDashboardDocuments(projectRoot);
  const usage = buildOperations(documents, fixtures, []).operations.find((operation) => operation.key === 'usage-30-days')!;
  const search: BenchOperation = {
    key: 'search-messages-garage',
    label: 'searchMessages "garage", 50 newest',
    operationName: 'SearchMessages',
    body: requestBody(documents, 'SearchMessages', { query: 'garage', first: 50 }),
  };
  return [usage, search];
}

/** One phase: agent writes at `rate` for `seconds`, with the dashboard load beside them when given. */
async function runPhase(
  primaryUrl: string,
  replicaUrl: string,
  writer: AgentWriter,
  rate: number,
  seconds: number,
  phase: Phase,
  dashboard: { convoql: ServerProcess; tiles: BenchOperation[]; fixtures: Fixtures; replicaDb: BenchDatabase } | null,
): Promise<PhaseResult> {
  const primaryBefore = await clusterCpu(primaryUrl);
  const writersBefore = await clusterCpu(primaryUrl, WRITER_APPLICATION);
  const replicaBefore = await clusterCpu(replicaUrl);
  const lag = new LagSampler(primaryUrl, replicaUrl);
  const startedAt = performance.now();
  const [steps, segments] = await Promise.all([
    writer.run(rate, seconds),
    dashboard
      ? Promise.all(
          dashboard.tiles.map((tile) => runSegment(dashboard.replicaDb, dashboard.convoql, tile, dashboard.fixtures.apiKey, 8, seconds)),
        )
      : Promise.resolve(null),
  ]);
  const elapsed = (performance.now() - startedAt) / 1000;
  const samples = await lag.stop();
  const primaryCpu = cpuBetween(primaryBefore, await clusterCpu(primaryUrl));
  const writerCpu = cpuBetween(writersBefore, await clusterCpu(primaryUrl, WRITER_APPLICATION));
  const replicaCpu = cpuBetween(replicaBefore, await clusterCpu(replicaUrl));
  const bytes = samples.map((sample) => sample.bytes).sort((a, b) => a - b);
  const ms = samples
    .map((sample) => sample.ms)
    .filter((value): value is number => value !== null)
    .sort((a, b) => a - b);
  return {
    phase,
    seconds: round(elapsed, 1),
    steps,
    stepsPerSecond: round(steps / elapsed, 1),
    writerCpuMsPerStep: writerCpu === null ? null : round(writerCpu / steps, 3),
    primaryCpuMsPerStep: primaryCpu === null ? null : round(primaryCpu / steps, 3),
    replicaCpuMsPerSecond: replicaCpu === null ? null : round(replicaCpu / elapsed, 0),
    lagBytes: { p50: quantile(bytes, 0.5), p95: quantile(bytes, 0.95), max: bytes.at(-1) ?? null },
    lagMs: { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: ms.at(-1) ?? null },
    dashboard: segments?.map(describeSegment) ?? null,
  };
}

function describeSegment(segment: SegmentResult) {
  const sorted = [...segment.latenciesMs].sort((a, b) => a - b);
  const errors = segment.errors.transport + segment.errors.http + segment.errors.graphql;
  return { requestsPerSecond: round(segment.requests / segment.seconds, 1), errors, p50Ms: quantile(sorted, 0.5) };
}

/**
 * A LangGraph-like writer: each step is what PostgresSaver.put and putWrites send for one super-step of an agent
 * thread, on threads of its own (`bench-agent-<n>`), paced to a fixed rate over {@link WRITER_CONNECTIONS} connections.
 */
class AgentWriter {
  private readonly pool: Pool;
  private step = 0;

  constructor(
    primaryUrl: string,
    private readonly tenantId: string,
  ) {
    this.pool = new Pool({ connectionString: withApplicationName(primaryUrl, WRITER_APPLICATION), max: WRITER_CONNECTIONS });
  }

  /** Writes steps at `rate` per second for `seconds`; returns how many were written. */
  async run(rate: number, seconds: number): Promise<number> {
    const startedAt = performance.now();
    const end = startedAt + seconds * 1000;
    let written = 0;
    const worker = async (slot: number) => {
      for (let n = slot; ; n += WRITER_CONNECTIONS) {
        const due = startedAt + (n * 1000) / rate;
        if (due >= end) return;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await this.writeStep();
        written++;
      }
    };
    await Promise.all(Array.from({ length: WRITER_CONNECTIONS }, (_, slot) => worker(slot)));
    return written;
  }

  private async writeStep(): Promise<void> {
    const n = this.step++;
    const threadId = `bench-agent-${n % 200}`;
    const checkpointId = `1ef${String(n).padStart(12, '0')}`;
    const parentId = n >= 200 ? `1ef${String(n - 200).padStart(12, '0')}` : null;
    const checkpoint = {
      v: 1,
      id: checkpointId,
      ts: new Date().toISOString(),
      channel_versions: { messages: n, __start__: 1 },
      versions_seen: {},
    };
    const blob = Buffer.from(JSON.stringify([{ type: 'ai', content: `step ${n}: ${'lorem ipsum '.repeat(20)}` }]));
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES ($1, '', 'messages', $2, 'json', $3)
         ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING`,
        [threadId, String(n), blob],
      );
      await client.query(
        `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
         VALUES ($1, '', $2, $3, $4, $5)
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata`,
        [threadId, checkpointId, parentId, checkpoint, { source: 'loop', step: n, tenant_id: this.tenantId }],
      );
      await client.query('COMMIT');
      await client.query(
        `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob)
         VALUES ($1, '', $2, $3, 0, 'messages', 'json', $4), ($1, '', $2, $3, 1, 'branch:agent', 'json', $5)
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET blob = EXCLUDED.blob`,
        [threadId, checkpointId, `task-${n}`, blob, Buffer.from('"agent"')],
      );
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Removes what an earlier run's writer left (its own threads only), so every run starts alike. */
async function prepareAgentTables(primaryUrl: string): Promise<void> {
  await withClient(primaryUrl, async (client) => {
    for (const table of ['checkpoint_writes', 'checkpoints', 'checkpoint_blobs']) {
      await client.query(`DELETE FROM ${table} WHERE thread_id LIKE 'bench-agent-%'`);
    }
    await client.query('VACUUM ANALYZE checkpoints, checkpoint_writes, checkpoint_blobs');
  });
}

/** Samples the replica's lag every 250 ms until stopped. */
class LagSampler {
  private readonly samples: { bytes: number; ms: number | null }[] = [];
  private readonly done: Promise<void>;
  private running = true;

  constructor(primaryUrl: string, replicaUrl: string) {
    this.done = (async () => {
      const primary = new Client({ connectionString: primaryUrl });
      const replica = new Client({ connectionString: replicaUrl });
      await Promise.all([primary.connect(), replica.connect()]);
      try {
        while (this.running) {
          const [{ rows: p }, { rows: r }] = await Promise.all([
            primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'),
            replica.query<{ lsn: string | null; ms: number | null }>(
              `SELECT pg_last_wal_replay_lsn()::text AS lsn,
                      (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS ms`,
            ),
          ]);
          const { rows } = await primary.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text AS bytes', [
            p[0]!.lsn,
            r[0]!.lsn ?? p[0]!.lsn,
          ]);
          this.samples.push({ bytes: Math.max(0, Number(rows[0]!.bytes)), ms: r[0]!.ms === null ? null : Math.max(0, r[0]!.ms) });
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      } finally {
        await Promise.all([primary.end(), replica.end()]);
      }
    })();
  }

  async stop(): Promise<{ bytes: number; ms: number | null }[]> {
    this.running = false;
    await this.done;
    return this.samples;
  }
}

/** CPU ms by pid of the cluster's processes (all of them, or one application's backends), from /proc; null if unreadable. */
async function clusterCpu(url: string, applicationName?: string): Promise<Map<number, number> | null> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      applicationName
        ? 'SELECT pid FROM pg_stat_activity WHERE application_name = $1'
        : 'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND $1::text IS NULL',
      [applicationName ?? null],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = processCpuMs(pid);
      if (ms === null) return null;
      cpu.set(pid, ms);
    }
    return cpu;
  });
}

function cpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** convoql_replica_reads_total by target, from the server's /metrics. */
async function replicaReads(server: ServerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
  const reads: Record<string, number> = {};
  for (const match of text.matchAll(/^convoql_replica_reads_total\{target="(\w+)"\} (\d+)$/gm)) reads[match[1]!] = Number(match[2]);
  return reads;
}

function printAndSave(
  projectRoot: string,
  phases: PhaseResult[],
  reads: Record<string, number>,
  run: { rate: number; seconds: number; dataset: BenchOptions['dataset']; throwaway: boolean; started: number },
  log: (line: string) => void,
): void {
  const average = (kind: Phase, pick: (phase: PhaseResult) => number | null) => {
    const values = phases.filter((phase) => phase.phase === kind).map(pick);
    return values.some((value) => value === null) ? null : values.reduce((sum: number, value) => sum + value!, 0) / values.length;
  };
  const alone = average('writes alone', (phase) => phase.primaryCpuMsPerStep);
  const beside = average('writes + dashboard on the replica', (phase) => phase.primaryCpuMsPerStep);
  const onPrimary = average('writes + dashboard on the primary', (phase) => phase.primaryCpuMsPerStep);
  const writersAlone = average('writes alone', (phase) => phase.writerCpuMsPerStep);
  const writersBeside = average('writes + dashboard on the replica', (phase) => phase.writerCpuMsPerStep);
  const writersOnPrimary = average('writes + dashboard on the primary', (phase) => phase.writerCpuMsPerStep);
  const change = alone && beside ? (beside / alone - 1) * 100 : null;
  const changeOnPrimary = alone && onPrimary ? (onPrimary / alone - 1) * 100 : null;
  const percent = (value: number | null) => (value === null ? '–' : `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`);
  console.log('');
  console.log(
    `read replica: agent writes (${run.rate} steps/s: checkpoint + blob + 2 writes) on the primary, A B C A B C phases of ${run.seconds} s; ` +
      `dashboard = usage tiles + searchMessages at 8 connections each, from the replica (B) or, with x-convoql-consistency: primary, from the primary (C)`,
  );
  console.log(
    'phase                              steps/s  writers ms/step  primary ms/step  replica CPU ms/s  lag p50/p95/max (ms)   lag max (kB)  dashboard req/s (usage, search) errors',
  );
  for (const phase of phases) {
    console.log(
      `${phase.phase.padEnd(34)} ${String(phase.stepsPerSecond).padStart(7)}  ${fmt(phase.writerCpuMsPerStep).padStart(15)}  ${fmt(phase.primaryCpuMsPerStep).padStart(15)}  ` +
        `${fmt(phase.replicaCpuMsPerSecond).padStart(16)}  ${`${fmt(phase.lagMs.p50, 0)}/${fmt(phase.lagMs.p95, 0)}/${fmt(phase.lagMs.max, 0)}`.padStart(20)}  ` +
        `${fmt(phase.lagBytes.max === null ? null : phase.lagBytes.max / 1024, 0).padStart(12)}  ` +
        (phase.dashboard
          ? `${phase.dashboard.map((tile) => tile.requestsPerSecond).join(', ')}  ${phase.dashboard.reduce((sum, tile) => sum + tile.errors, 0)}`
          : '–'),
    );
  }
  console.log('');
  console.log(
    `primary CPU per step: ${fmt(alone)} ms alone, ${fmt(beside)} ms beside the dashboard load on the replica (${percent(change)}; target <= +10 %), ` +
      `${fmt(onPrimary)} ms with the same dashboard load on the primary (${percent(changeOnPrimary)}); ` +
      `writers' own backends ${fmt(writersAlone)}, ${fmt(writersBeside)}, ${fmt(writersOnPrimary)} ms`,
  );
  console.log(`convoql's queries by where they read: ${JSON.stringify(reads)}`);
  const file = writeResults(projectRoot, {
    scenario: REPLICA_KEY,
    startedAt: new Date(Date.now() - (performance.now() - run.started)).toISOString(),
    durationSeconds: round((performance.now() - run.started) / 1000, 0),
    throwawayCluster: run.throwaway,
    dataset: run.dataset,
    writesPerSecond: run.rate,
    phaseSeconds: run.seconds,
    phases,
    primaryCpuMsPerStep: {
      alone,
      dashboardOnReplica: beside,
      changePercent: change,
      dashboardOnPrimary: onPrimary,
      changeOnPrimaryPercent: changeOnPrimary,
    },
    replicaReads: reads,
  });
  log(`wrote ${path.relative(projectRoot, file)}`);
}

function fmt(value: number | null, digits = 3): string {
  return value === null ? '–' : value.toFixed(digits);
}

async function waitForReplay(primaryUrl: string, replicaUrl: string): Promise<void> {
  const target = await withClient(
    primaryUrl,
    async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn,
  );
  await withClient(replicaUrl, async (client) => {
    for (let attempt = 0; attempt < 1200; attempt++) {
      const { rows } = await client.query<{ done: boolean }>('SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS done', [
        target,
      ]);
      if (rows[0]!.done) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the replica did not replay up to ${target} within 2 minutes`);
  });
}

function withApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
