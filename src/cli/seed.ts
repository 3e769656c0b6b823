import { performance } from 'node:perf_hooks';
import { SEED_DEFAULTS, resolveSeedOptions, seedDatabase, type SeedOptions, type SeedSummary } from '../../prisma/seed';
import { loadConfig } from '../config';
import { startEmbeddedPostgres } from '../db/embedded';
import { applyMigrations } from '../db/migrations';
import { conversationSyncConfigOf } from '../conversations/conversation.sync';
import { syncSeededConversations } from '../server/demo';

// `npm run db:seed -- --tenants 3 --sessions 2000 --messages-per-session 10 --conversations 50
// --long-thread-steps 1000 --seed 42 --reset`: migrates, then seeds DATABASE_URL, or the embedded
// PGlite in DATA_DIR when DATABASE_URL is unset.

const USAGE = `Usage: npm run db:seed -- [options]
  --tenants N               tenants: acme, globex, initech, tenant-4, ... (default ${SEED_DEFAULTS.tenants})
  --sessions N              chat sessions per tenant (default ${SEED_DEFAULTS.sessions})
  --messages-per-session N  average messages per session (default ${SEED_DEFAULTS.messagesPerSession})
  --conversations N         agent threads per tenant (default ${SEED_DEFAULTS.conversations})
  --long-thread-steps N     one extra thread of N checkpoints in the first tenant; 0, 3 or >= 5 (default 0)
  --seed N                  PRNG seed; the same options give the same rows (default ${SEED_DEFAULTS.seed})
  --now ISO-DATE            instant the data leads up to (default: the current time)
  --reset                   truncate sessions, messages, conversations and the checkpoint tables first
  --help                    print this help`;

const INTEGER_FLAGS = {
  '--tenants': 'tenants',
  '--sessions': 'sessions',
  '--messages-per-session': 'messagesPerSession',
  '--conversations': 'conversations',
  '--long-thread-steps': 'longThreadSteps',
  '--seed': 'seed',
} as const satisfies Record<string, keyof SeedOptions>;

const FLAG_OF: Record<string, string> = Object.fromEntries(Object.entries(INTEGER_FLAGS).map(([flag, key]) => [key, flag]));

/** Thrown for a bad command line; its message is one line. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses the command line into seed options (validated), or null when --help was asked for. */
export function parseSeedArgs(argv: readonly string[]): Required<SeedOptions> | null {
  const options: SeedOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (flag === '--help' || flag === '-h') return null;
    if (flag === '--reset') {
      if (inline !== undefined) throw new UsageError(`--reset takes no value, received "${arg}"`);
      options.reset = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (flag !== '--now' && !(flag in INTEGER_FLAGS)) {
      throw new UsageError(`Unknown option "${arg}"; run with --help for the list`);
    }
    if (value === undefined || value === '' || value.startsWith('--')) {
      throw new UsageError(`Expected a value after ${flag}`);
    }
    if (flag === '--now') {
      const now = new Date(value);
      if (Number.isNaN(now.getTime())) throw new UsageError(`Expected --now to be an ISO date, received "${value}"`);
      options.now = now;
      continue;
    }
    if (!/^\d+$/.test(value)) {
      throw new UsageError(`Expected ${flag} to be a non-negative integer, received "${value}"`);
    }
    options[INTEGER_FLAGS[flag as keyof typeof INTEGER_FLAGS]] = Number(value);
  }
  // The CLI seeds data that looks recent; --now pins it for reproducible output.
  options.now ??= new Date();
  try {
    return resolveSeedOptions(options);
  } catch (error) {
    // resolveSeedOptions names options as in code (longThreadSteps); name the flag instead.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.replace(/^Expected (\w+)/, (match, key: string) => (FLAG_OF[key] ? `Expected ${FLAG_OF[key]}` : match)));
  }
}

function formatSummary(summary: SeedSummary): string {
  const rows: [string, number][] = [
    ['tenants', summary.tenants],
    ['sessions', summary.sessions],
    ['messages', summary.messages],
    ['conversations', summary.conversations],
    ['checkpoints', summary.checkpoints],
    ['checkpoint_blobs', summary.checkpointBlobs],
    ['checkpoint_writes', summary.checkpointWrites],
  ];
  const lines = rows.map(([name, count]) => `  ${name.padEnd(18)} ${count.toLocaleString('en-US').padStart(12)}`);
  const megabytes = (summary.checkpointBytes / 1024 / 1024).toFixed(1);
  return [...lines, `  ${'checkpoint bytes'.padEnd(18)} ${`${megabytes} MB`.padStart(12)}`].join('\n');
}

async function main(): Promise<void> {
  const options = parseSeedArgs(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return;
  }
  const started = performance.now();
  const config = loadConfig(process.env);
  const { database } = config;
  const embedded = database.url ? null : await startEmbeddedPostgres({ dataDir: database.dataDir });
  const target = embedded ? `the embedded PostgreSQL in ${database.dataDir}` : describeUrl(database.url!);
  try {
    const connectionString = embedded?.connectionString ?? database.url!;
    const { applied } = await applyMigrations(connectionString);
    console.log(`Seeding ${target} (${applied.length} migration(s) applied first), seed ${options.seed}, now ${options.now.toISOString()}`);
    const summary = await seedDatabase(connectionString, options, (line) =>
      console.log(`  ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`),
    );
    console.log(`Seeded in ${(summary.elapsedMs / 1000).toFixed(1)} s (total ${((performance.now() - started) / 1000).toFixed(1)} s):`);
    console.log(formatSummary(summary));
    const sync = await syncSeededConversations(connectionString, conversationSyncConfigOf(config));
    console.log(`Synced ${sync.created + sync.updated} conversations (${sync.checkpointsIndexed} checkpoints indexed for replay).`);
  } finally {
    await embedded?.stop();
  }
}

// Never print the password.
function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`db:seed failed: ${message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error'}`);
    if (error instanceof UsageError) console.error('Run with --help for the options.');
    process.exitCode = 1;
  });
}
