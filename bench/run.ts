/**
 * convoql's benchmark: `npm run bench [-- --quick | --explain | --startup | --help]`.
 *
 * Method
 * - Data: the seed generator fills BENCH_DATABASE_URL (a real PostgreSQL, created if missing) or, without it, an
 *   embedded PGlite running in a child process; a dataset is generated once per set of options (kept as the
 *   database's comment) and reused, then VACUUM ANALYZEd. Default size, per tenant of 2: 100,000 sessions,
 *   ~1,000,000 messages, 2,000 agent threads, plus one LangGraph thread of 1,000 checkpoints in the first tenant.
 * - Servers: convoql as `npm start` runs it (the start script's Node flags; production mode, LOG_LEVEL=warn,
 *   background jobs off so the data stays fixed) and the raw baseline (bench/baseline: node:http + pg, the same
 *   JSON `data`, the fewest statements, no GraphQL), each in its own process with the same pool size. Their answers are compared before any load.
 * - Load: autocannon in this process, keep-alive connections, at 1, 16 and 64 connections per operation, in segments
 *   alternating A (convoql) B (baseline) A B after a warm-up of each, so machine noise hits both alike; ratios are
 *   convoql / baseline. Latency percentiles come from every response inside the segments' windows; errors are
 *   transport errors and timeouts, non-2xx answers, and 200 answers carrying GraphQL errors; a connection that got
 *   no answer within a segment is reported as stalled. After each segment the run waits until PostgreSQL has
 *   finished what the server still sends (requests left queued when autocannon hung up), so it cannot load the next.
 * - SQL statements: a module preloaded into both servers (bench/server-probe.ts, `node --require`) counts every
 *   statement sent through node-postgres; the table shows one request measured alone after a warm-up, the JSON also
 *   the average under load. The same probe reports heap figures and takes CPU profiles (`--cpu-prof`).
 * - CPU and memory: each server's CPU time per request comes from /proc/<pid>/stat (user + system) over its
 *   segments; its RSS is sampled from /proc every 100 ms (peak RSS column).
 * - Also: the sessions table with LOAD_PER_FIELD=true (A B A B against batching on, 16 connections);
 *   `--explain` prints EXPLAIN ANALYZE of deep session pages in every order and direction; `--startup` times a
 *   fresh embedded start to its first answer; `--cpu-prof` profiles the convoql server.
 * Results: one table on stdout, the same as JSON in bench/results/<UTC time>.json. Timings never go into Jest.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  openBenchDatabase,
  prepareDataset,
  loadFixtures,
  describeSize,
  finishLeftoverWork,
  type BenchDatabase,
  type Fixtures,
} from './dataset';
import { summarizeCpuProfile } from './cpu-profile';
import { connectionStringFor } from './database-cpu';
import { runExplain } from './explain';
import { requestOnce, runSegment, type SegmentResult } from './load';
import { NOISY_NEIGHBOUR_KEY, noisyNeighbourTargets, runNoisyNeighbour } from './noisy-neighbour';
import { USAGE_ROLLUPS_KEY, runUsageRollups } from './usage-rollups';
import { runSubscriptions, SUBSCRIPTIONS_ENV, SUBSCRIPTIONS_KEY } from './subscriptions';
import { runReplayTail } from './replay-tail';
import { APPEND_MESSAGES_KEY, appendMessagesTargets, runAppendMessages } from './append-messages';
import { buildOperations, loadDashboardDocuments, type BenchOperation } from './operations';
import { runSearch, SEARCH_KEY } from './search';
import { parseBenchOptions, USAGE, UsageError, type BenchOptions } from './options';
import { findReplayPages } from './replay-pages';
import { npmStartCommand, startServerProcess, type ServerProcess } from './processes';
import {
  combineSegments,
  formatTable,
  formatTargets,
  round,
  writeResults,
  type ResultRow,
  type ServerFigures,
  type TargetCheck,
} from './report';
import { runImportBench } from './import';
import { CHECKPOINT_TRIGGER_KEY, runCheckpointTrigger } from './checkpoint-trigger';
import { runStartup } from './startup';
import { REPLICA_KEY, runReplicaBench } from './replica';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
/** Results and profiles; .gitignore keeps bench/results/*.json out of git. */
const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');
/** Longest segment of a slow operation. */
const MAX_SEGMENT_SECONDS = 15;

const log = (line: string) => console.log(line);
/** `--only import`: the import scenario (bench/import.ts), on a database of its own; run only when named. */
const IMPORT_KEY = 'import';

async function main(): Promise<void> {
  let options: BenchOptions | null;
  try {
    options = parseBenchOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}`);
    process.exit(2);
  }
  if (options === null) {
    console.log(USAGE);
    return;
  }
  if (options.mode === 'startup') {
    await runStartup(PROJECT_ROOT, log);
    return;
  }
  // Scenarios on a database of their own, without the dataset.
  if (options.only.includes(IMPORT_KEY)) await runImportBench(PROJECT_ROOT, options, log);
  // On a primary + streaming replica of its own (or BENCH_DATABASE_URL + BENCH_DATABASE_READ_URL).
  if (options.only.includes(REPLICA_KEY)) await runReplicaBench(PROJECT_ROOT, options, log);
  if (options.only.includes(CHECKPOINT_TRIGGER_KEY)) await runCheckpointTrigger(options, log);
  const standalone = [IMPORT_KEY, REPLICA_KEY, CHECKPOINT_TRIGGER_KEY];
  if (options.only.length > 0 && options.only.every((key) => standalone.includes(key))) return;
  const database = await openBenchDatabase(options.databaseUrl, options.dataset, PROJECT_ROOT);
  try {
    log(`database: ${database.kind === 'postgresql' ? `PostgreSQL ${redact(database.url)}` : 'embedded PGlite (child process)'}`);
    await prepareDataset(database, options.dataset, options.reseed, log);
    const fixtures = await loadFixtures(database, options.dataset);
    if (options.mode === 'explain') await runExplain(PROJECT_ROOT, database, fixtures, convoqlEnv(database, true), log);
    else {
      const isSearch = (key: string) => key === SEARCH_KEY || key.startsWith(`${SEARCH_KEY}-`);
      const scenarios = [
        NOISY_NEIGHBOUR_KEY,
        USAGE_ROLLUPS_KEY,
        SUBSCRIPTIONS_KEY,
        APPEND_MESSAGES_KEY,
        IMPORT_KEY,
        REPLICA_KEY,
        CHECKPOINT_TRIGGER_KEY,
      ];
      const runs = (key: string) => options.only.length === 0 || options.only.includes(key);
      if (!options.only.every((key) => scenarios.includes(key) || isSearch(key)) || options.only.length === 0)
        await runLoad(options, database, fixtures);
      if (options.only.length === 0 || options.only.some(isSearch)) await runSearchScenario(options, database, fixtures);
      if (runs(SUBSCRIPTIONS_KEY)) {
        const server = await startConvoql(database, true, SUBSCRIPTIONS_ENV);
        try {
          const sessionsTable = buildOperations(loadDashboardDocuments(PROJECT_ROOT), fixtures, []).operations.find(
            (operation) => operation.key === 'sessions-table',
          )!;
          await runSubscriptions(
            server,
            database,
            fixtures,
            sessionsTable,
            Math.max(10, options.segmentSeconds * 2),
            log,
            options.cpuProfile,
          );
          await runReplayTail(server, database, fixtures, log);
        } finally {
          await server.stop();
        }
      }
      if (runs(NOISY_NEIGHBOUR_KEY)) await runNoisyNeighbours(options, database, fixtures);
      if (runs(USAGE_ROLLUPS_KEY)) await runUsageRollupsScenario(options, database, fixtures);
      if (runs(APPEND_MESSAGES_KEY)) await runAppendScenario(options, database, fixtures);
    }
  } finally {
    await database.stop();
  }
}

/** Environment of `node dist/src/main.js` under test: production mode, quiet log, no background jobs. */
function convoqlEnv(database: BenchDatabase, batching: boolean): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: connectionStringFor(database, CONVOQL_APPLICATION),
    DB_POOL_MAX: String(database.poolMax),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    // Session expiry and conversation sync would change the data between segments.
    SESSION_EXPIRY_INTERVAL_SECONDS: '0',
    CONVERSATION_SYNC_INTERVAL_SECONDS: '0',
    LOAD_PER_FIELD: String(!batching),
    // With a streaming replica of BENCH_DATABASE_URL, convoql's queries (the usage and search tiles among them) read
    // from it, as in production; the baseline keeps reading from the primary.
    ...(process.env.BENCH_DATABASE_READ_URL ? { DATABASE_READ_URL: process.env.BENCH_DATABASE_READ_URL } : {}),
  };
}

/** The application_name of each server's database connections, by which their backends' CPU is found. */
const CONVOQL_APPLICATION = 'convoql-bench';
const BASELINE_APPLICATION = 'baseline-bench';

/** Settings of the load benchmark's convoql server beyond the defaults. */
// TENANT_QUEUE_LENGTH is today's default, set so that an older version compared with BENCH_COMPARE_WITH (whose queue
// was as short as its concurrency) queues its connections alike instead of refusing them.
const LOAD_BENCHMARK_ENV = { COST_BUDGET_MAX: '0', TENANT_QUEUE_LENGTH: '100' };

function startConvoql(database: BenchDatabase, batching: boolean, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startServerProcess(PROJECT_ROOT, {
    name: batching ? 'convoql' : 'convoql (batching off)',
    applicationName: CONVOQL_APPLICATION,
    ...npmStartCommand(PROJECT_ROOT),
    env: { ...convoqlEnv(database, batching), ...env },
    readyPath: '/healthz',
    graphqlPath: '/graphql',
  });
}

/** convoql without Apollo Server (`--floor`): `npm start`'s Node flags and settings, bench/floor/server.ts as the script. */
function startFloor(database: BenchDatabase): Promise<ServerProcess> {
  return startServerProcess(PROJECT_ROOT, {
    name: 'convoql without Apollo Server (floor)',
    applicationName: CONVOQL_APPLICATION,
    nodeFlags: npmStartCommand(PROJECT_ROOT).nodeFlags,
    script: 'dist/bench/floor/server.js',
    env: { ...convoqlEnv(database, true), ...LOAD_BENCHMARK_ENV },
    readyPath: '/healthz',
    graphqlPath: '/graphql',
  });
}

function startBaseline(database: BenchDatabase): Promise<ServerProcess> {
  // An A/B of two versions of convoql: the other checkout's server (built, as `npm start` runs it) takes the baseline's
  // place, on the same data and with the same settings.
  const compareWith = process.env.BENCH_COMPARE_WITH;
  if (compareWith) {
    const root = path.resolve(compareWith);
    return startServerProcess(PROJECT_ROOT, {
      name: `convoql of ${root}`,
      applicationName: BASELINE_APPLICATION,
      root,
      ...npmStartCommand(root),
      env: { ...convoqlEnv(database, true), ...LOAD_BENCHMARK_ENV, DATABASE_URL: connectionStringFor(database, BASELINE_APPLICATION) },
      readyPath: '/healthz',
      graphqlPath: '/graphql',
    });
  }
  return startServerProcess(PROJECT_ROOT, {
    name: 'baseline',
    applicationName: BASELINE_APPLICATION,
    script: 'dist/bench/baseline/server.js',
    env: {
      NODE_ENV: 'production',
      BASELINE_DATABASE_URL: connectionStringFor(database, BASELINE_APPLICATION),
      DB_POOL_MAX: String(database.poolMax),
    },
    readyPath: '/healthz',
    graphqlPath: '/graphql',
  });
}

async function runLoad(options: BenchOptions, database: BenchDatabase, fixtures: Fixtures): Promise<void> {
  const started = performance.now();
  const documents = loadDashboardDocuments(PROJECT_ROOT);
  const servers: ServerProcess[] = [];
  try {
    // One API key at machine speed spends far more than a key's cost budget restores (it is there for fairness between
    // tenants, measured by the noisy-neighbour scenario): the load benchmark measures capacity, so it is off here.
    const convoql = options.floor ? await startFloor(database) : await startConvoql(database, true, LOAD_BENCHMARK_ENV);
    servers.push(convoql);
    const baseline = await startBaseline(database);
    servers.push(baseline);
    log(
      `servers: ${convoql.name} pid ${convoql.pid}, baseline pid ${baseline.pid}${process.env.BENCH_COMPARE_WITH ? ` (the baseline is the convoql of ${process.env.BENCH_COMPARE_WITH})` : ''}`,
    );
    if (options.floor)
      log('convoql below is the floor server (bench/floor/server.ts): no Apollo Server, no plugins; its targets do not apply');

    const replay = await findReplayPages(PROJECT_ROOT, database, convoql, documents, fixtures, log);
    const built = buildOperations(documents, fixtures, replay);
    const operations = built.operations.filter((operation) => options.only.length === 0 || options.only.includes(operation.key));
    for (const skipped of built.skipped) log(`skipped ${skipped.label}: ${skipped.reason}`);

    // Answers first: both servers must return the same data, and the statement counts come from single requests.
    const checks = new Map<string, AnswerCheck>();
    for (const operation of operations) checks.set(operation.key, await compareAnswers(operation, convoql, baseline, fixtures.apiKey));

    const rows: ResultRow[] = [];
    const profiles: { operation: string; text: string; summary: object }[] = [];
    for (const operation of operations) {
      log(`load: ${operation.label}`);
      await measure(database, convoql, operation, fixtures.apiKey, 16, options.warmupSeconds);
      await measure(database, baseline, operation, fixtures.apiKey, 16, options.warmupSeconds);
      const check = checks.get(operation.key)!;
      // A segment must be long enough for a request to finish in it (the usage tiles take seconds).
      const seconds = Math.min(MAX_SEGMENT_SECONDS, Math.max(options.segmentSeconds, Math.ceil((2 * check.convoqlMs) / 1000)));
      if (seconds > options.segmentSeconds) log(`  (segments of ${seconds} s: one request takes ${(check.convoqlMs / 1000).toFixed(1)} s)`);
      for (const connections of options.connections) {
        const segments: Record<'convoql' | 'baseline', SegmentResult[]> = { convoql: [], baseline: [] };
        for (let pass = 0; pass < 2; pass++) {
          segments.convoql.push(await measure(database, convoql, operation, fixtures.apiKey, connections, seconds));
          segments.baseline.push(await measure(database, baseline, operation, fixtures.apiKey, connections, seconds));
        }
        const row: ResultRow = {
          operation: operation.key,
          label: operation.label,
          connections,
          segmentSeconds: seconds,
          convoql: combineSegments(segments.convoql),
          baseline: combineSegments(segments.baseline),
          throughputRatio: null,
          statementsPerRequest: { convoql: check.convoql, baseline: check.baseline },
        };
        row.throughputRatio = row.baseline.requestsPerSecond > 0 ? row.convoql.requestsPerSecond / row.baseline.requestsPerSecond : null;
        rows.push(row);
        log(
          `  ${String(connections).padStart(2)} conns: ${row.convoql.requestsPerSecond.toFixed(0)} vs ${row.baseline.requestsPerSecond.toFixed(0)} req/s` +
            ` (${row.throughputRatio?.toFixed(2) ?? '–'}×), p50 ${row.convoql.p50Ms?.toFixed(1) ?? '–'} vs ${row.baseline.p50Ms?.toFixed(1) ?? '–'} ms`,
        );
      }
      // Profiled in a segment of its own after the measured ones, so the profiler's overhead is in no figure.
      if (options.cpuProfile)
        profiles.push({ operation: operation.key, ...(await profileOperation(database, convoql, operation, fixtures.apiKey, options)) });
    }

    const batching =
      !options.floor && operations.some((operation) => operation.key === 'sessions-table')
        ? await compareBatching(
            database,
            convoql,
            operations.find((operation) => operation.key === 'sessions-table')!,
            fixtures,
            options,
          )
        : null;

    for (const server of servers.splice(0)) await server.stop();

    const targets = checkTargets(rows, checks, batching);
    console.log('');
    console.log(
      `${options.floor ? 'convoql without Apollo Server (the floor, bench/floor/server.ts)' : 'convoql'} vs raw baseline on ${database.kind === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}: ${describeSize(options.dataset)}`,
    );
    console.log(
      `segments of ${options.segmentSeconds} s (longer for operations slower than half of that), A B A B per row; c = convoql, b = baseline; SQL/req from one request alone`,
    );
    console.log('');
    console.log(formatTable(rows));
    console.log('');
    for (const [key, check] of checks) if (!check.sameData) console.log(`note: ${key}: the two servers' answers differ: ${check.note}`);
    for (const row of rows) {
      if (row.convoql.serverErrorLog)
        console.log(`note: ${row.operation} at ${row.connections} conns, convoql logged: ${row.convoql.serverErrorLog}`);
    }
    for (const skipped of built.skipped) console.log(`note: skipped ${skipped.label}: ${skipped.reason}`);
    if (batching) console.log(describeBatching(batching));
    console.log('');
    console.log('targets (2-core machine; PostgreSQL figures count):');
    console.log(formatTargets(targets));
    for (const profile of profiles) {
      console.log('');
      console.log(profile.text);
    }
    const file = writeResults(PROJECT_ROOT, {
      startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
      durationSeconds: round((performance.now() - started) / 1000, 0),
      database: database.kind,
      ...(options.floor ? { convoql: 'floor: bench/floor/server.ts, without Apollo Server' } : {}),
      dataset: options.dataset,
      fixtures: {
        tenantId: fixtures.tenantId,
        sessionsInTenant: fixtures.sessionsInTenant,
        deepPageOffset: fixtures.deepPageOffset,
        detailSessionMessages: fixtures.detailSessionMessages,
        replay: Array.isArray(replay) ? null : { totalSteps: replay.totalSteps, lateOrdinal: replay.lateOrdinal },
      },
      method: {
        segmentSeconds: options.segmentSeconds,
        warmupSeconds: options.warmupSeconds,
        connections: options.connections,
        alternation: 'A B A B',
      },
      answers: Object.fromEntries(checks),
      rows,
      batching,
      skipped: built.skipped,
      targets,
      cpuProfiles: Object.fromEntries(profiles.map((profile) => [profile.operation, profile.summary])),
    });
    console.log('');
    console.log(`wrote ${path.relative(PROJECT_ROOT, file)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    for (const server of servers) await server.stop();
  }
}

/**
 * The noisy-neighbour scenario, with the default limits and again without the cost budget (so that only the cap on
 * a tenant's operations in flight holds A back; B at machine speed also spends more than a dashboard's budget).
 */
async function runNoisyNeighbours(options: BenchOptions, database: BenchDatabase, fixtures: Fixtures): Promise<void> {
  const started = performance.now();
  const documents = loadDashboardDocuments(PROJECT_ROOT);
  const sessionsTable = buildOperations(documents, fixtures, []).operations.find((operation) => operation.key === 'sessions-table')!;
  const configurations: [string, Record<string, string>][] = [
    ['default limits', {}],
    ['no cost budget', { COST_BUDGET_MAX: '0' }],
  ];
  const results = [];
  for (const [configuration, env] of configurations) {
    results.push(
      await runNoisyNeighbour({
        database,
        fixtures,
        sessionsTable,
        configuration,
        env,
        start: (extra) => startConvoql(database, true, extra),
        seconds: Math.max(options.segmentSeconds, options.quick ? 3 : 5),
        log,
      }),
    );
    await finishLeftoverWork(database);
  }
  const targets = results.flatMap(noisyNeighbourTargets);
  console.log('');
  console.log(`noisy neighbour on ${database.kind === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}: ${describeSize(options.dataset)}`);
  console.log(formatTargets(targets));
  const file = writeResults(PROJECT_ROOT, {
    scenario: NOISY_NEIGHBOUR_KEY,
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    database: database.kind,
    dataset: options.dataset,
    results,
    targets,
  });
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The usage-rollups scenario: uncached usage by day from the scan and from the rollups, and the triggers' insert cost. */
async function runUsageRollupsScenario(options: BenchOptions, database: BenchDatabase, fixtures: Fixtures): Promise<void> {
  const started = performance.now();
  log('');
  log(
    `usage from rollups vs the scan on ${database.kind === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}: ${describeSize(options.dataset)}`,
  );
  const { ranges, insert, targets } = await runUsageRollups(database, fixtures, log);
  console.log(formatTargets(targets));
  const file = writeResults(PROJECT_ROOT, {
    scenario: USAGE_ROLLUPS_KEY,
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    database: database.kind,
    dataset: options.dataset,
    ranges,
    insert,
    targets,
  });
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The append-messages scenario (bench/append-messages.ts): appendMessages vs the raw baseline's INSERT … SELECT FROM unnest. */
async function runAppendScenario(options: BenchOptions, database: BenchDatabase, fixtures: Fixtures): Promise<void> {
  const started = performance.now();
  log('load: appendMessages, 100 messages per call');
  const result = await runAppendMessages({
    database,
    fixtures,
    startConvoql: () => startConvoql(database, true, LOAD_BENCHMARK_ENV),
    startBaseline: () => startBaseline(database),
    // The issue's figure is at 16 connections; 1 shows a call's latency.
    connections: options.connections.filter((connections) => connections <= 16),
    seconds: options.segmentSeconds,
    warmupSeconds: options.warmupSeconds,
    cpuProfile: options.cpuProfile,
    log,
  });
  const targets = appendMessagesTargets(result);
  console.log('');
  console.log(`append messages on ${database.kind === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}: ${describeSize(options.dataset)}`);
  console.log(formatTargets(targets));
  const file = writeResults(PROJECT_ROOT, {
    scenario: APPEND_MESSAGES_KEY,
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    database: database.kind,
    dataset: options.dataset,
    result,
    targets,
  });
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The search scenario (bench/search.ts) on one convoql server that captures its statements for EXPLAIN. */
async function runSearchScenario(options: BenchOptions, database: BenchDatabase, fixtures: Fixtures): Promise<void> {
  const started = performance.now();
  const server = await startConvoql(database, true, { ...LOAD_BENCHMARK_ENV, BENCH_CAPTURE_STATEMENTS: '1' });
  let result: Awaited<ReturnType<typeof runSearch>>;
  try {
    log(`search scenario: convoql pid ${server.pid}`);
    result = await runSearch({
      database,
      fixtures,
      documents: loadDashboardDocuments(PROJECT_ROOT),
      server,
      segmentSeconds: options.segmentSeconds,
      warmupSeconds: options.warmupSeconds,
      only: options.only.filter((key) => key.startsWith(`${SEARCH_KEY}-`)),
      finish: () => finishLeftoverWork(database),
      log,
    });
  } finally {
    await server.stop();
  }
  console.log('');
  console.log(`search on ${database.kind === 'postgresql' ? 'PostgreSQL' : 'embedded PGlite'}: ${describeSize(options.dataset)}`);
  console.log(`segments of ${options.segmentSeconds} s (longer for slower operations), 2 per connection count; 50 rows per page`);
  console.log('');
  console.log(result.table);
  console.log('');
  console.log('targets (2-core machine; PostgreSQL figures count):');
  console.log(formatTargets(result.targets));
  const file = writeResults(PROJECT_ROOT, {
    scenario: SEARCH_KEY,
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    durationSeconds: round((performance.now() - started) / 1000, 0),
    database: database.kind,
    dataset: options.dataset,
    method: { segmentSeconds: options.segmentSeconds, warmupSeconds: options.warmupSeconds, connections: [1, 16], segments: 2 },
    rows: result.rows,
    targets: result.targets,
  });
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)} (with every plan) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** One segment, then the end of what the server still works on for it (see finishLeftoverWork). */
async function measure(
  database: BenchDatabase,
  server: ServerProcess,
  operation: BenchOperation,
  apiKey: string,
  connections: number,
  seconds: number,
) {
  const logBefore = server.outputTail().length;
  const segment = await runSegment(database, server, operation, apiKey, connections, seconds);
  // Read before the leftovers are cancelled, which makes the server log cancellations.
  if (segment.errors.graphql + segment.errors.http > 0) {
    const output = server.outputTail();
    segment.serverErrorLog = loggedErrors(output.length >= logBefore ? output.slice(logBefore) : output);
  }
  const leftover = await finishLeftoverWork(database);
  if (leftover.cancelled > 0 || leftover.seconds > 2) {
    log(
      `  (${server.name}: cancelled what still ran for requests whose client had gone: ${leftover.cancelled} cancel requests, ${leftover.seconds.toFixed(1)} s)`,
    );
  }
  return segment;
}

/** Profiles convoql through one more 16-connection segment; saves the .cpuprofile and summarizes it. */
async function profileOperation(
  database: BenchDatabase,
  convoql: ServerProcess,
  operation: BenchOperation,
  apiKey: string,
  options: BenchOptions,
) {
  await convoql.startProfile();
  const segment = await measure(database, convoql, operation, apiKey, 16, options.segmentSeconds);
  const profile = await convoql.stopProfile();
  mkdirSync(RESULTS_DIR, { recursive: true });
  // A .cpuprofile in JSON clothing, so it stays out of git; Chrome DevTools and VS Code open it as it is.
  const file = path.join(
    RESULTS_DIR,
    `${new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z')}.${operation.key}.cpuprofile.json`,
  );
  writeFileSync(file, profile);
  return summarizeCpuProfile(
    profile,
    `convoql CPU profile, ${operation.label}, 16 conns (${path.relative(PROJECT_ROOT, file)})`,
    segment.requests,
  );
}

/** The errors a server logged (pino JSON lines at level 50), by the last line of their message, most frequent first. */
function loggedErrors(output: string): string | null {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.includes('"level":50')) continue;
    let message: string;
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      message = `${entry.msg ?? ''}: ${(entry.err?.message ?? '').split('\n').filter(Boolean).at(-1) ?? ''}`;
    } catch {
      message = line.slice(0, 200);
    }
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  if (counts.size === 0) return null;
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([message, count]) => `${count}× ${message}`)
    .join('; ');
}

/** The two servers' answers to one operation, sent alone: statements, latency, and whether the data agree. */
interface AnswerCheck {
  convoql: number;
  baseline: number;
  convoqlMs: number;
  baselineMs: number;
  sameData: boolean;
  note: string;
}

/** Sends the operation to both servers (twice each: the second, warm, is counted) and compares their `data`. */
async function compareAnswers(
  operation: BenchOperation,
  convoql: ServerProcess,
  baseline: ServerProcess,
  apiKey: string,
): Promise<AnswerCheck> {
  await requestOnce(convoql, operation, apiKey);
  await requestOnce(baseline, operation, apiKey);
  const a = await requestOnce(convoql, operation, apiKey);
  const b = await requestOnce(baseline, operation, apiKey);
  const dataOf = (body: unknown) => (body as { data?: unknown }).data;
  const errorsOf = (body: unknown) => (body as { errors?: unknown }).errors;
  let note = '';
  if (a.status !== 200 || errorsOf(a.body))
    note = `convoql answered HTTP ${a.status} ${JSON.stringify(errorsOf(a.body) ?? a.body).slice(0, 300)}`;
  else if (b.status !== 200 || errorsOf(b.body))
    note = `baseline answered HTTP ${b.status} ${JSON.stringify(errorsOf(b.body) ?? b.body).slice(0, 300)}`;
  else note = firstDifference(dataOf(a.body), dataOf(b.body), 'data') ?? '';
  log(`answers: ${operation.label}: ${note === '' ? 'identical data' : note}; SQL statements ${a.statements} vs ${b.statements}`);
  return { convoql: a.statements, baseline: b.statements, convoqlMs: a.ms, baselineMs: b.ms, sameData: note === '', note };
}

/** The path and values where two JSON values first differ, or null when they are equal (key order ignored). */
function firstDifference(left: unknown, right: unknown, at: string): string | null {
  if (typeof left !== 'object' || left === null || typeof right !== 'object' || right === null) {
    return Object.is(left, right) ? null : `${at}: ${JSON.stringify(left)?.slice(0, 120)} vs ${JSON.stringify(right)?.slice(0, 120)}`;
  }
  if (Array.isArray(left) !== Array.isArray(right)) return `${at}: array vs object`;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) {
    const difference = firstDifference((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key], `${at}.${key}`);
    if (difference !== null) return difference;
  }
  return null;
}

/** The sessions table with DataLoader batching off, alternated with batching on at 16 connections. */
async function compareBatching(
  database: BenchDatabase,
  batched: ServerProcess,
  operation: BenchOperation,
  fixtures: Fixtures,
  options: BenchOptions,
) {
  log('load: sessions table with LOAD_PER_FIELD=true');
  const unbatched = await startConvoql(database, false, LOAD_BENCHMARK_ENV);
  try {
    // Each server's first request may look up the API key (cached for 30 s); the second is counted.
    await requestOnce(unbatched, operation, fixtures.apiKey);
    await requestOnce(batched, operation, fixtures.apiKey);
    const statementsOff = (await requestOnce(unbatched, operation, fixtures.apiKey)).statements;
    const statementsOn = (await requestOnce(batched, operation, fixtures.apiKey)).statements;
    await measure(database, unbatched, operation, fixtures.apiKey, 16, options.warmupSeconds);
    const on: SegmentResult[] = [];
    const off: SegmentResult[] = [];
    for (let pass = 0; pass < 2; pass++) {
      on.push(await measure(database, batched, operation, fixtures.apiKey, 16, options.segmentSeconds));
      off.push(await measure(database, unbatched, operation, fixtures.apiKey, 16, options.segmentSeconds));
    }
    return { connections: 16, on: combineSegments(on), off: combineSegments(off), statementsOn, statementsOff };
  } finally {
    await unbatched.stop();
  }
}

function describeBatching(batching: { on: ServerFigures; off: ServerFigures; statementsOn: number; statementsOff: number }): string {
  const ratio = batching.on.requestsPerSecond > 0 ? batching.off.requestsPerSecond / batching.on.requestsPerSecond : null;
  return (
    `DataLoader batching off (sessions table, 16 conns): ${batching.off.requestsPerSecond.toFixed(0)} req/s vs ${batching.on.requestsPerSecond.toFixed(0)} on` +
    (ratio === null || ratio === 0 ? '' : ` = ${ratio.toFixed(2)}× (batching buys ${(1 / ratio).toFixed(2)}×)`) +
    `; p50 ${batching.off.p50Ms?.toFixed(1) ?? '–'} vs ${batching.on.p50Ms?.toFixed(1) ?? '–'} ms; SQL/req ${batching.statementsOff} vs ${batching.statementsOn}`
  );
}

function checkTargets(
  rows: readonly ResultRow[],
  checks: Map<string, { convoql: number }>,
  batching: { on: { requestsPerSecond: number }; off: { requestsPerSecond: number } } | null,
): TargetCheck[] {
  const row = (key: string, connections: number) =>
    rows.find((candidate) => candidate.operation === key && candidate.connections === connections);
  const checksOut: TargetCheck[] = [];
  const statements = (key: string, limit: number, label: string) => {
    const measured = checks.get(key)?.convoql;
    checksOut.push({
      target: `SQL statements per request, ${label} ≤ ${limit}`,
      measured: measured === undefined ? 'not run' : String(measured),
      met: measured === undefined ? null : measured <= limit,
    });
  };
  statements('sessions-table', 3, 'sessions table');
  statements('session-detail', 4, 'session detail');
  for (const [key, label, minimum] of [
    ['sessions-table', 'sessions table', 0.8],
    ['session-detail', 'session detail', 0.55],
    ['sessions-deep-page', 'deep page', 0.5],
    ['replay-late-page', 'late replay page', 0.5],
  ] as const) {
    const measured = row(key, 16)?.throughputRatio ?? null;
    checksOut.push({
      target: `throughput vs baseline at 16 conns, ${label} ≥ ${minimum}×`,
      measured: measured === null ? 'not run' : `${measured.toFixed(2)}×`,
      met: measured === null ? null : measured >= minimum,
    });
  }
  for (const [key, reference, label, maximum] of [
    ['sessions-deep-page', 'sessions-first-page', 'deep page p50 ≤ 1.2 × first page p50 (1 conn)', 1.2],
    ['replay-late-page', 'replay-first-page', 'late replay page p50 ≤ 1.5 × first replay page p50 (1 conn)', 1.5],
  ] as const) {
    const deep = row(key, 1)?.convoql.p50Ms ?? null;
    const first = row(reference, 1)?.convoql.p50Ms ?? null;
    const ratio = deep !== null && first !== null && first > 0 ? deep / first : null;
    checksOut.push({
      target: label,
      measured: ratio === null ? 'not run' : `${ratio.toFixed(2)}× (${deep!.toFixed(1)} vs ${first!.toFixed(1)} ms)`,
      met: ratio === null ? null : ratio <= maximum,
    });
  }
  const at64 = rows.filter((candidate) => candidate.connections === 64);
  const failing = at64.filter((candidate) => candidate.convoql.errors > 0);
  const stalled = at64.filter((candidate) => candidate.convoql.stalledConnections > 0);
  checksOut.push({
    target: 'no errors at 64 connections',
    measured:
      at64.length === 0
        ? 'not run'
        : [
            failing.length === 0
              ? '0 errors'
              : failing
                  .map((r) => {
                    const code =
                      /"code":"([A-Z_]+)"/.exec(r.convoql.errorSample ?? '')?.[1] ?? r.convoql.errorSample?.slice(0, 60) ?? 'transport';
                    return `${r.operation}: ${r.convoql.errors} errors (${code}${r.convoql.serverErrorLog ? `; logged: ${r.convoql.serverErrorLog}` : ''})`;
                  })
                  .join('; '),
            ...stalled.map(
              (r) => `${r.operation}: ${r.convoql.stalledConnections} connections got no answer within a ${r.segmentSeconds} s segment`,
            ),
          ].join('; '),
    // A connection that never got an answer is a dashboard that never loaded: as much a failure as an error.
    met: at64.length === 0 ? null : failing.length === 0 && stalled.length === 0,
  });
  const rss = at64.map((candidate) => candidate.convoql.peakRssMb).filter((value): value is number => value !== null);
  checksOut.push({
    target: 'server peak RSS under 64 connections ≤ 200 MB',
    measured: rss.length === 0 ? 'not run' : `${Math.max(...rss).toFixed(0)} MB`,
    met: rss.length === 0 ? null : Math.max(...rss) <= 200,
  });
  if (batching) {
    checksOut.push({
      target: 'DataLoader batching on vs off (sessions table, 16 conns)',
      measured:
        batching.off.requestsPerSecond > 0
          ? `${(batching.on.requestsPerSecond / batching.off.requestsPerSecond).toFixed(2)}× the throughput`
          : 'not measured',
      met: null,
    });
  }
  checksOut.push({
    target: 'fresh embedded start answers its first query ≤ 15 s',
    measured: 'see `npm run bench -- --startup`',
    met: null,
  });
  return checksOut;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  });
}
