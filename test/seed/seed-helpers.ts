// Shared by the seed tests: seeded test databases, table hashes, and reading rows back.
import { Client } from 'pg';
import { seedDatabase, type SeedOptions, type SeedSummary } from '../../prisma/seed';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/** Small options that still cover every scenario in each tenant and a long thread. */
export const SMALL_SEED: SeedOptions = Object.freeze({
  tenants: 2,
  sessions: 40,
  messagesPerSession: 8,
  conversations: 10,
  longThreadSteps: 41,
  seed: 7,
});

/** A migrated test database filled by seedDatabase. */
export interface SeededDatabase {
  readonly db: TestDatabase;
  readonly summary: SeedSummary;
}

/** Creates a test database and seeds it. */
export async function createSeededDatabase(options: SeedOptions = SMALL_SEED): Promise<SeededDatabase> {
  const db = await createTestDatabase();
  try {
    return { db, summary: await seedDatabase(db.url, options) };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/** Runs `work` with one connection (PGlite serves one session: never keep two open at once). */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// Every seeded table with a total order of its rows.
const HASHED_TABLES: readonly (readonly [table: string, order: string])[] = [
  ['tenants', 'id'],
  ['sessions', 'id'],
  ['messages', 'id'],
  ['conversations', 'id'],
  ['checkpoints', 'thread_id, checkpoint_ns, checkpoint_id'],
  ['checkpoint_blobs', 'thread_id, checkpoint_ns, channel, version'],
  ['checkpoint_writes', 'thread_id, checkpoint_ns, checkpoint_id, task_id, idx'],
];

/** md5 of every seeded table's rows (all columns, as text, in key order). */
export async function tableHashes(url: string): Promise<Record<string, string>> {
  return withClient(url, async (client) => {
    const hashes: Record<string, string> = {};
    for (const [table, order] of HASHED_TABLES) {
      const { rows } = await client.query<{ hash: string | null; count: string }>(
        `SELECT md5(string_agg(t::text, E'\\n' ORDER BY ${order
          .split(', ')
          .map((c) => `t.${c}`)
          .join(', ')})) AS hash,
                count(*) AS count
           FROM ${table} t`,
      );
      hashes[table] = `${rows[0].count}:${rows[0].hash ?? ''}`;
    }
    return hashes;
  });
}

/** A `checkpoints` row with its JSON decoded. */
export interface CheckpointRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  type: string | null;
  checkpoint: {
    v: number;
    id: string;
    ts: string;
    channel_versions: Record<string, number>;
    versions_seen: Record<string, Record<string, number>>;
  };
  metadata: { source: string; step: number; parents: Record<string, string>; tenant_id: string };
}

/** A `checkpoint_blobs` row. */
export interface BlobRow {
  thread_id: string;
  checkpoint_ns: string;
  channel: string;
  version: string;
  type: string;
  blob: Buffer | null;
}

/** A `checkpoint_writes` row. */
export interface WriteRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  idx: number;
  channel: string;
  type: string | null;
  blob: Buffer;
}

/** A `conversations` row as pg returns it (bigint and numeric as strings). */
export interface ConversationRow {
  id: string;
  tenant_id: string;
  thread_id: string;
  title: string | null;
  status: 'IDLE' | 'INTERRUPTED' | 'ERROR';
  created_at: Date;
  last_activity_at: Date;
  step_count: number;
  input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  pending_interrupt: unknown;
  last_error: unknown;
  last_checkpoint_id: string | null;
}

/** Everything in LangGraph's tables and `conversations`, for checks in JavaScript. */
export interface LangGraphRows {
  checkpoints: CheckpointRow[];
  blobs: BlobRow[];
  writes: WriteRow[];
  conversations: ConversationRow[];
}

/** Reads all checkpoint, blob, write and conversation rows (small databases only). */
export async function readLangGraphRows(url: string): Promise<LangGraphRows> {
  return withClient(url, async (client) => ({
    checkpoints: (await client.query<CheckpointRow>('SELECT * FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id')).rows,
    blobs: (await client.query<BlobRow>('SELECT * FROM checkpoint_blobs')).rows,
    writes: (await client.query<WriteRow>('SELECT * FROM checkpoint_writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx'))
      .rows,
    conversations: (await client.query<ConversationRow>('SELECT * FROM conversations ORDER BY tenant_id, created_at')).rows,
  }));
}

/** A decoded `{lc:1, type:"constructor", id:[…, Class], kwargs}` message. */
export interface SerializedMessage {
  lc: number;
  type: string;
  id: string[];
  kwargs: Record<string, unknown> & { id?: string; content: unknown };
}

/** Decodes a JSON blob. */
export function decodeBlob<T = unknown>(blob: Buffer | null): T {
  if (!blob) throw new Error('Expected a blob, received NULL');
  return JSON.parse(blob.toString('utf8')) as T;
}
