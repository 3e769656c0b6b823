// The benchmark's command line and environment: what to measure, on which database, at which size.

/** Which part of the benchmark to run. */
export type BenchMode = 'load' | 'explain' | 'startup';

/** Size of the generated dataset; the seed generator's options (sessions and conversations are per tenant). */
export interface DatasetSize {
  tenants: number;
  sessionsPerTenant: number;
  messagesPerSession: number;
  conversationsPerTenant: number;
  longThreadSteps: number;
  seed: number;
}

/** Everything a run needs to know, resolved from flags, then environment, then defaults. */
export interface BenchOptions {
  mode: BenchMode;
  quick: boolean;
  /** A real PostgreSQL (BENCH_DATABASE_URL); undefined runs on the embedded PGlite. */
  databaseUrl: string | undefined;
  dataset: DatasetSize;
  /** Regenerate the dataset even when one with the same options exists. */
  reseed: boolean;
  /** Seconds of each measured segment (one A or one B of A B A B). */
  segmentSeconds: number;
  /** Seconds of warm-up per operation and server before its segments. */
  warmupSeconds: number;
  connections: number[];
  /** Operation keys to run; empty runs them all. */
  only: string[];
  /** Profiles the convoql server under each operation and prints where its time went. */
  cpuProfile: boolean;
  /** Measures convoql without Apollo Server (bench/floor/server.ts) in convoql's place: the floor under the pipeline. */
  floor: boolean;
}

/** The dataset: per tenant 100,000 sessions, ~1,000,000 messages, 2,000 agent threads; one 1,000-step thread. */
const FULL_DATASET: DatasetSize = {
  tenants: 2,
  sessionsPerTenant: 100_000,
  messagesPerSession: 10,
  conversationsPerTenant: 2_000,
  longThreadSteps: 1_000,
  seed: 42,
};

/** A dataset small enough to generate and run in a couple of minutes. */
const QUICK_DATASET: DatasetSize = {
  tenants: 2,
  sessionsPerTenant: 5_000,
  messagesPerSession: 10,
  conversationsPerTenant: 200,
  longThreadSteps: 300,
  seed: 42,
};

export const USAGE = `Usage: npm run bench -- [options]
  (default)                 load test: convoql vs the raw baseline at 1, 16 and 64 connections, A B A B
  --explain                 print EXPLAIN ANALYZE of deep session pages in every order and direction
  --startup                 time from \`node dist/src/main.js\` on a fresh embedded data directory to its first answer
  --quick                   small dataset (5,000 sessions per tenant), 1 s segments, 1 and 16 connections: a couple of minutes
  --sessions N              sessions per tenant (env BENCH_SESSIONS; default 100000)
  --messages-per-session N  average messages per session (env BENCH_MESSAGES_PER_SESSION; default 10)
  --conversations N         agent threads per tenant (env BENCH_CONVERSATIONS; default 2000)
  --long-thread-steps N     checkpoints of the long LangGraph thread (env BENCH_LONG_THREAD_STEPS; default 1000)
  --tenants N               tenants (env BENCH_TENANTS; default 2)
  --seconds N               seconds per measured segment (env BENCH_SECONDS; default 5, quick 1)
  --connections A,B,C       connection counts (default 1,16,64; quick 1,16)
  --only KEY,KEY            operations to run (keys as printed in the table), or one scenario alone: noisy-neighbour;
                            usage-rollups (usage by day from the scan vs the rollups, and the triggers' cost on a bulk
                            insert); search (or search-sessions, search-messages, search-conversations for part of it);
                            subscriptions (BENCH_SUBSCRIPTIONS_CONTROL=1: its table rounds with no subscribers, a
                            control of the method); append-messages; import (convoql import of
                            1,000,000 messages into a fresh PGlite and, with BENCH_DATABASE_URL, a new database
                            on that server; BENCH_IMPORT_MESSAGES, BENCH_IMPORT_MESSAGES_PER_SESSION); replica (agent
                            writes on a primary with and without the usage and search tiles on its streaming replica:
                            the primary's CPU per write and the replica's lag; a throwaway primary + replica unless
                            BENCH_DATABASE_URL and BENCH_DATABASE_READ_URL are set; BENCH_REPLICA_WRITES_PER_SECOND);
                            checkpoint-trigger (LangGraph's checkpoint writes/s with and without convoql's triggers, a
                            database of its own)
  --reseed                  regenerate the dataset even if one with these options exists
  --cpu-prof                profile the convoql server under each operation (an extra 16-connection segment)
  --floor                   load test with convoql's schema, resolvers and compiled operations on bare node:http, without
                            Apollo Server's pipeline or convoql's plugins (bench/floor/server.ts), in convoql's place:
                            the floor a request cannot go below while GraphQL executes it; not a server to deploy
Database: BENCH_DATABASE_URL=postgres://… runs on that PostgreSQL (created if missing); unset, on the embedded PGlite.
          BENCH_DATABASE_READ_URL=postgres://… (a streaming replica of it): convoql's queries read from the replica.
A/B of two versions: BENCH_COMPARE_WITH=<another checkout, built> runs that checkout's convoql where the baseline runs.`;

/** Thrown for a bad command line; its message is one line. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const INTEGER_FLAGS: Record<string, [key: keyof DatasetSize, env: string]> = {
  '--sessions': ['sessionsPerTenant', 'BENCH_SESSIONS'],
  '--messages-per-session': ['messagesPerSession', 'BENCH_MESSAGES_PER_SESSION'],
  '--conversations': ['conversationsPerTenant', 'BENCH_CONVERSATIONS'],
  '--long-thread-steps': ['longThreadSteps', 'BENCH_LONG_THREAD_STEPS'],
  '--tenants': ['tenants', 'BENCH_TENANTS'],
};

/** Parses `argv` (after the script name) and the environment; null when --help was asked for. */
export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | null {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    if (!arg.startsWith('--')) throw new UsageError(`Expected an option starting with --, received "${arg}"; run with --help`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = name in INTEGER_FLAGS || ['--seconds', '--connections', '--only'].includes(name);
    const known = takesValue || ['--explain', '--startup', '--quick', '--reseed', '--cpu-prof', '--floor'].includes(name);
    if (!known) throw new UsageError(`Unknown option "${arg}"; run with --help for the list`);
    if (!takesValue) {
      flags.set(name, true);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError(`Expected a value after ${name}`);
    flags.set(name, value);
  }

  if (flags.has('--explain') && flags.has('--startup')) throw new UsageError('Pass --explain or --startup, not both');
  const mode: BenchMode = flags.has('--explain') ? 'explain' : flags.has('--startup') ? 'startup' : 'load';
  const quick = flags.has('--quick');
  const dataset = { ...(quick ? QUICK_DATASET : FULL_DATASET) };
  for (const [flag, [key, variable]] of Object.entries(INTEGER_FLAGS)) {
    const raw = flags.get(flag) ?? env[variable];
    if (raw !== undefined && raw !== '')
      dataset[key] = integer(String(raw), flag, key === 'tenants' || key === 'messagesPerSession' ? 1 : 0);
  }
  if (dataset.longThreadSteps > 0 && dataset.longThreadSteps < 5) {
    throw new UsageError(`Expected --long-thread-steps to be 0 or at least 5, received ${dataset.longThreadSteps}`);
  }
  const secondsRaw = flags.get('--seconds') ?? env.BENCH_SECONDS;
  const segmentSeconds = secondsRaw !== undefined && secondsRaw !== '' ? integer(String(secondsRaw), '--seconds', 1) : quick ? 1 : 5;
  const connectionsRaw = flags.get('--connections');
  const connections =
    typeof connectionsRaw === 'string' ? connectionsRaw.split(',').map((part) => integer(part.trim(), '--connections', 1)) : [1, 16, 64];
  const onlyRaw = flags.get('--only');
  const only =
    typeof onlyRaw === 'string'
      ? onlyRaw
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : [];
  return {
    mode,
    quick,
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    dataset,
    reseed: flags.has('--reseed'),
    segmentSeconds,
    warmupSeconds: 1,
    connections,
    only,
    cpuProfile: flags.has('--cpu-prof'),
    floor: flags.has('--floor'),
  };
}

function integer(value: string, flag: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`Expected ${flag} to be an integer >= ${min}, received "${value}"`);
  return Number(value);
}
