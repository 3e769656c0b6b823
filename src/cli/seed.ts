import { performance } from 'node:perf_hooks';
import { resolveSeedOptions, seedDatabase, type SeedOptions, type SeedSummary } from '../../prisma/seed';
import { startEmbeddedPostgres } from '../db/embedded';
import { applyMigrations } from '../db/migrations';
import { conversationSyncConfigOf } from '../conversations/conversation.sync';
import { syncSeededConversations } from '../server/demo';
import { cliConfig, describeUrl, UsageError } from './cli-support';
import { SEED_USAGE } from './seed-usage';

// `npx convoql seed --tenants 3 --sessions 2000 --messages-per-session 10 --conversations 50
// --long-thread-steps 1000 --seed 42 --reset`: migrates, then seeds DATABASE_URL, or the embedded
// PGlite in DATA_DIR when DATABASE_URL is unset.

const INTEGER_FLAGS = {
  '--tenants': 'tenants',
  '--sessions': 'sessions',
  '--messages-per-session': 'messagesPerSession',
  '--conversations': 'conversations',
  '--long-thread-steps': 'longThreadSteps',
  '--seed': 'seed',
} as const satisfies Record<string, keyof SeedOptions>;

const FLAG_OF: Record<string, string> = Object.fromEntries(Object.entries(INTEGER_FLAGS).map(([flag, key]) => [key, flag]));

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
      throw new UsageError(`Unknown option "${arg}"; run \`npx convoql seed --help\` for the list`);
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

/** `convoql seed [options]`: see {@link SEED_USAGE}. */
export async function seed(argv: readonly string[]): Promise<void> {
  const options = parseSeedArgs(argv);
  if (!options) {
    console.log(SEED_USAGE);
    return;
  }
  const started = performance.now();
  const config = cliConfig();
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
