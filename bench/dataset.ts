// The benchmark database: a real PostgreSQL or an embedded PGlite, migrated and filled by the seed
// generator once per set of options (the options are kept as the database's comment and compared on
// the next run), then the values the operations need (API key, ids, cursors).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { SEED_DEFAULTS, seedDatabase } from '../prisma/seed';
import { tenantAt } from '../prisma/seed/content';
import { createApiKey } from '../src/api-keys/api-key.repository';
import { loadConfig } from '../src/config';
import { conversationSyncConfigOf } from '../src/conversations/conversation.sync';
import { syncSeededConversations } from '../src/server/demo';
import { createDatabase } from '../src/db/client';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded';
import { applyMigrations } from '../src/db/migrations';
import { encodeCursor } from './baseline/encoding';
import type { DatasetSize } from './options';

/** The database the servers under test connect to. */
export interface BenchDatabase {
  readonly kind: 'postgresql' | 'pglite';
  readonly url: string;
  /** DB_POOL_MAX for both servers: PGlite is a single backend session. */
  readonly poolMax: number;
  /** Stops the embedded PGlite; nothing for PostgreSQL. */
  stop(): Promise<void>;
}

/** The values the benchmark operations are built from. */
export interface Fixtures {
  readonly tenantId: string;
  readonly apiKey: string;
  /** The instant the seeded data leads up to. */
  readonly now: Date;
  readonly sessionsInTenant: number;
  /** Sessions before the deep page (90,000 on the full dataset). */
  readonly deepPageOffset: number;
  /** Cursor of the session at deepPageOffset in the default order (started_at DESC, id DESC). */
  readonly deepPageCursor: string;
  /** The session with the most messages (the detail page), and how many it has. */
  readonly detailSessionKey: string;
  readonly detailSessionMessages: number;
  /** The tenant's 20 newest sessions: the representations of a router's `_entities` fetch. */
  readonly entitySessionKeys: string[];
  /** The conversation of the long LangGraph thread, or null when none was generated. */
  readonly longThreadConversationKey: string | null;
}

/** The seeded data always leads up to this instant, so runs are comparable and timestamps deterministic. */
export const DATASET_NOW = SEED_DEFAULTS.now;
const BENCH_KEY_NAME = 'convoql-bench';
/** How deep the deep page goes on the full dataset; smaller datasets go 90% down. */
const DEEP_PAGE_OFFSET = 90_000;

/** Opens BENCH_DATABASE_URL (creating the database when missing) or starts an embedded PGlite for this dataset. */
export async function openBenchDatabase(databaseUrl: string | undefined, size: DatasetSize, projectRoot: string): Promise<BenchDatabase> {
  if (databaseUrl) {
    await ensureDatabaseExists(databaseUrl);
    return { kind: 'postgresql', url: databaseUrl, poolMax: 10, stop: async () => undefined };
  }
  const dataDir = path.join(
    projectRoot,
    'bench',
    '.data',
    `pglite-${createHash('sha256').update(datasetKey(size)).digest('hex').slice(0, 12)}`,
  );
  // In a child process of its own, so that neither server's memory or CPU includes the database's.
  const embedded: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir, childProcess: true });
  return { kind: 'pglite', url: embedded.connectionString, poolMax: 1, stop: () => embedded.stop() };
}

/** Migrates, then seeds unless the database already holds this dataset; VACUUM ANALYZE after seeding. */
export async function prepareDataset(
  database: BenchDatabase,
  size: DatasetSize,
  reseed: boolean,
  log: (line: string) => void,
): Promise<void> {
  const { applied } = await applyMigrations(database.url);
  if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
  const key = datasetKey(size);
  const current = await withClient(database.url, async (client) => {
    const result = await client.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = current_database()`,
    );
    return result.rows[0]?.comment ?? null;
  });
  if (current === key && !reseed) {
    log(`reusing the dataset (${describeSize(size)})`);
    return;
  }
  log(`generating the dataset (${describeSize(size)}) with the seed generator…`);
  const started = performance.now();
  await withClient(database.url, async (client) => {
    await client.query(`COMMENT ON DATABASE ${await quotedDatabaseName(client)} IS NULL`);
    // Derived from the checkpoint tables, which the seed truncates; stale entries would describe another thread.
    const stepIndex = await client.query<{ present: boolean }>(`SELECT to_regclass('conversation_step_index') IS NOT NULL AS present`);
    if (stepIndex.rows[0]?.present) await client.query('TRUNCATE conversation_step_index');
  });
  const summary = await seedDatabase(
    database.url,
    {
      tenants: size.tenants,
      sessions: size.sessionsPerTenant,
      messagesPerSession: size.messagesPerSession,
      conversations: size.conversationsPerTenant,
      longThreadSteps: size.longThreadSteps,
      seed: size.seed,
      now: DATASET_NOW,
      reset: true,
    },
    (line) => log(`  seed: ${line}`),
  );
  log(
    `  seeded ${summary.sessions} sessions, ${summary.messages} messages, ${summary.conversations} conversations, ` +
      `${summary.checkpoints} checkpoints (${(summary.checkpointBytes / 1e6).toFixed(0)} MB) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  // As `npm run db:seed` and a running server do: the sync stores each thread's metadata, models, tools and search
  // steps (what the conversation filters read) and its replay step index.
  const synced = performance.now();
  const sync = await syncSeededConversations(
    database.url,
    conversationSyncConfigOf(loadConfig({ NODE_ENV: 'production', DATABASE_URL: database.url, LOG_LEVEL: 'silent' })),
  );
  log(
    `  synced ${sync.created + sync.updated} conversations (${sync.checkpointsIndexed} checkpoints indexed, ${sync.failed} failed) in ` +
      `${((performance.now() - synced) / 1000).toFixed(0)} s`,
  );
  await withClient(database.url, async (client) => {
    const vacuumed = performance.now();
    await client.query('VACUUM (ANALYZE)');
    log(`  VACUUM (ANALYZE) in ${((performance.now() - vacuumed) / 1000).toFixed(0)} s`);
    await client.query(`COMMENT ON DATABASE ${await quotedDatabaseName(client)} IS ${quoteLiteral(key)}`);
  });
}

/** Creates a fresh read-only API key for the first tenant and finds the ids and cursors the operations use. */
export async function loadFixtures(database: BenchDatabase, size: DatasetSize): Promise<Fixtures> {
  const tenantId = tenantAt(0).id;
  const db = createDatabase(database.url, { poolMax: 1 });
  let apiKey: string;
  try {
    await db.prisma.apiKey.deleteMany({ where: { name: BENCH_KEY_NAME } });
    ({ key: apiKey } = await createApiKey(db, { tenantId, name: BENCH_KEY_NAME, scopes: ['read'] }));
  } finally {
    await db.close();
  }
  return withClient(database.url, async (client) => {
    const sessionsInTenant = Number(
      (await client.query<{ n: string }>('SELECT count(*) AS n FROM sessions WHERE tenant_id = $1', [tenantId])).rows[0]!.n,
    );
    if (sessionsInTenant < 100)
      throw new Error(`Expected at least 100 sessions in tenant ${tenantId}, found ${sessionsInTenant}; run with --reseed`);
    const deepPageOffset = Math.min(DEEP_PAGE_OFFSET, Math.floor(sessionsInTenant * 0.9));
    // The cursor is built from the row itself (OFFSET is fine once, here; the API never uses it).
    const deep = await client.query<{ id: string; started_at: Date }>(
      'SELECT id, started_at FROM sessions WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC OFFSET $2 LIMIT 1',
      [tenantId, deepPageOffset - 1],
    );
    const deepRow = deep.rows[0]!;
    const detail = await client.query<{ session_id: string; n: number }>(
      `SELECT session_id, count(*)::int AS n FROM messages WHERE tenant_id = $1 GROUP BY session_id ORDER BY n DESC, session_id LIMIT 1`,
      [tenantId],
    );
    const entities = await client.query<{ id: string }>(
      'SELECT id FROM sessions WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT 20',
      [tenantId],
    );
    const longThread =
      size.longThreadSteps > 0
        ? await client.query<{ id: string }>(
            `SELECT c.id FROM conversations c
              JOIN (SELECT thread_id, count(*) AS n FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id ORDER BY n DESC LIMIT 1) t
                ON t.thread_id = c.thread_id
             WHERE c.tenant_id = $1`,
            [tenantId],
          )
        : { rows: [] };
    return {
      tenantId,
      apiKey,
      now: DATASET_NOW,
      sessionsInTenant,
      deepPageOffset,
      deepPageCursor: encodeCursor('Session:STARTED_AT', { value: deepRow.started_at.toISOString(), id: deepRow.id }),
      detailSessionKey: detail.rows[0]!.session_id,
      detailSessionMessages: detail.rows[0]!.n,
      entitySessionKeys: entities.rows.map((row) => row.id),
      longThreadConversationKey: longThread.rows[0]?.id ?? null,
    };
  });
}

const IDLE_POLLS = 3;
const IDLE_POLL_MS = 100;
/** On PGlite a probe queues behind every statement sent before it; this fast means nothing was waiting. */
const PGLITE_IDLE_PROBE_MS = 25;
const IDLE_WAIT_LIMIT_MS = 180_000;

/**
 * Ends what a server still works on after autocannon hung up (requests of slow operations queued at 64
 * connections), so that it does not load the next segment. PostgreSQL: cancels the statements other sessions of
 * the benchmark database are running until three polls in a row find none (their clients are gone; convoql itself
 * would finish them). PGlite (one session, a FIFO of statements): waits until three probes in a row come back at
 * once. Returns the seconds it took and the cancel requests sent (a statement still cancelling, or a parallel worker,
 * is counted at each poll).
 */
export async function finishLeftoverWork(database: BenchDatabase): Promise<{ seconds: number; cancelled: number }> {
  const started = performance.now();
  let cancelled = 0;
  await withClient(database.url, async (client) => {
    for (let quiet = 0; quiet < IDLE_POLLS;) {
      const probeStarted = performance.now();
      let idle: boolean;
      if (database.kind === 'postgresql') {
        const result = await client.query<{ cancelled: number; busy: number }>(
          `SELECT count(*) FILTER (WHERE state = 'active' AND pg_cancel_backend(pid))::int AS cancelled,
                  count(*) FILTER (WHERE state IS DISTINCT FROM 'idle')::int AS busy
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        cancelled += result.rows[0]!.cancelled;
        idle = result.rows[0]!.busy === 0;
      } else {
        await client.query('SELECT 1');
        idle = performance.now() - probeStarted < PGLITE_IDLE_PROBE_MS;
      }
      quiet = idle ? quiet + 1 : 0;
      if (performance.now() - started > IDLE_WAIT_LIMIT_MS) break;
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
    }
  });
  return { seconds: (performance.now() - started) / 1000, cancelled };
}

/** Runs `work` with a connected client and always disconnects. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A human summary of a dataset size. */
export function describeSize(size: DatasetSize): string {
  return (
    `${size.tenants} tenants × ${size.sessionsPerTenant.toLocaleString('en-US')} sessions × ~${size.messagesPerSession} messages, ` +
    `${size.conversationsPerTenant.toLocaleString('en-US')} conversations per tenant, a ${size.longThreadSteps}-step thread`
  );
}

/**
 * Version of what a dataset of given options holds; a dataset of an older version is generated again. 2: the search
 * markers (prisma/seed/search-markers.ts), and the conversation sync run after seeding. 3: sessions and messages
 * written in time order (the same rows, laid out as a live system lays them out).
 */
const DATASET_VERSION = 3;

function datasetKey(size: DatasetSize): string {
  return `convoql-bench dataset ${JSON.stringify({ ...size, now: DATASET_NOW.toISOString(), version: DATASET_VERSION })}`;
}

async function ensureDatabaseExists(url: string): Promise<void> {
  try {
    await withClient(url, async () => undefined);
  } catch (error) {
    // 3D000: invalid_catalog_name, the database does not exist.
    if ((error as { code?: string }).code !== '3D000') throw error;
    const target = new URL(url);
    const name = decodeURIComponent(target.pathname.slice(1));
    const maintenance = new URL(url);
    maintenance.pathname = '/postgres';
    await withClient(maintenance.toString(), (client) => client.query(`CREATE DATABASE ${quoteIdentifier(name)}`));
  }
}

async function quotedDatabaseName(client: Client): Promise<string> {
  const result = await client.query<{ name: string }>('SELECT current_database() AS name');
  return quoteIdentifier(result.rows[0]!.name);
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
