// Deterministic demo and benchmark data: tenants, chat bot sessions with messages, and LangGraph
// agent threads (checkpoints, blobs, writes) with their `conversations` rows.
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { tenantAt } from './content';
import { CONVERSATIONS_TABLE, generateConversation, generateLongThread } from './conversations';
import { CHECKPOINTS_TABLE, CHECKPOINT_BLOBS_TABLE, CHECKPOINT_WRITES_TABLE, type CheckpointSink } from './langgraph';
import { MESSAGES_TABLE, SESSIONS_TABLE, generateSession } from './sessions';
import { RowBuffer, TransactionPipeline, type TableSpec } from './writer';

/** What to generate; every field has a default (SEED_DEFAULTS). */
export interface SeedOptions {
  /** Number of tenants: acme, globex, initech, then tenant-4, tenant-5, … */
  tenants?: number;
  /** Sessions per tenant. */
  sessions?: number;
  /** Average number of messages per session (each session draws 0.4–1.6× this). */
  messagesPerSession?: number;
  /** Agent threads per tenant. */
  conversations?: number;
  /**
   * When > 0, one extra thread of exactly this many root checkpoints in the first tenant (3 or 5 to
   * 5,000). Its blobs hold the whole message list at every step: 1,000 steps ≈ 150 MB.
   */
  longThreadSteps?: number;
  /** PRNG seed: the same options give byte-identical rows. */
  seed?: number;
  /** The instant all timestamps lead up to; defaults to a fixed date so output is deterministic. */
  now?: Date;
  /** Truncate sessions, messages, conversations and LangGraph's checkpoint tables first. */
  reset?: boolean;
}

/** Row counts written by seedDatabase and how long it took. */
export interface SeedSummary {
  tenants: number;
  sessions: number;
  messages: number;
  conversations: number;
  checkpoints: number;
  checkpointBlobs: number;
  checkpointWrites: number;
  /** Bytes of the checkpoint blob and write rows (blobs and text values). */
  checkpointBytes: number;
  elapsedMs: number;
}

/** The defaults of SeedOptions (demo size). */
export const SEED_DEFAULTS: Readonly<Required<SeedOptions>> = Object.freeze({
  tenants: 3,
  sessions: 200,
  messagesPerSession: 10,
  conversations: 12,
  longThreadSteps: 0,
  seed: 42,
  now: new Date('2026-01-15T12:00:00.000Z'),
  reset: false,
});

const TENANTS_TABLE: TableSpec = {
  name: 'tenants',
  columns: [
    ['id', 'text'],
    ['name', 'text'],
    ['created_at', 'timestamptz'],
  ],
};
const DAY_MS = 86_400_000;
// Sessions generated (and inserted in one transaction) at a time.
const SESSION_CHUNK = 1_000;
// Tables seedDatabase writes, children first, as `reset` truncates them. Tenants and API keys stay.
const SEEDED_TABLES = [
  'messages',
  'session_search_documents',
  'sessions',
  'conversation_search_steps',
  'conversations',
  'checkpoint_writes',
  'checkpoint_blobs',
  'checkpoints',
];

/** Fills in defaults and validates; throws an Error naming the option, the expectation and the value. */
export function resolveSeedOptions(options: SeedOptions): Required<SeedOptions> {
  const resolved = { ...SEED_DEFAULTS };
  for (const [key, value] of Object.entries(options) as [keyof SeedOptions, unknown][]) {
    if (value !== undefined) Object.assign(resolved, { [key]: value });
  }
  const integer = (name: keyof SeedOptions, min: number, max = 10_000_000) => {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`Expected ${name} to be an integer from ${min} to ${max}, received ${String(value)}`);
    }
  };
  integer('tenants', 1, 1_000);
  integer('sessions', 0);
  integer('messagesPerSession', 0, 10_000);
  integer('conversations', 0, 100_000);
  integer('longThreadSteps', 0, 5_000);
  integer('seed', 0, 2 ** 32 - 1);
  if (resolved.longThreadSteps > 0 && resolved.longThreadSteps < 5 && resolved.longThreadSteps !== 3) {
    throw new Error(`Expected longThreadSteps to be 0, 3 or at least 5, received ${resolved.longThreadSteps}`);
  }
  if (!(resolved.now instanceof Date) || Number.isNaN(resolved.now.getTime())) {
    throw new Error(`Expected now to be a valid Date, received ${String(resolved.now)}`);
  }
  return resolved;
}

/** The rows of the three checkpoint tables, buffered for batched inserts. */
class CheckpointRows implements CheckpointSink {
  readonly checkpoints = new RowBuffer(CHECKPOINTS_TABLE, { maxRows: 2_000 });
  readonly blobs = new RowBuffer(CHECKPOINT_BLOBS_TABLE);
  readonly writes = new RowBuffer(CHECKPOINT_WRITES_TABLE);

  checkpoint(row: unknown[]): void {
    this.checkpoints.add(row);
  }

  blob(row: unknown[]): void {
    this.blobs.add(row);
  }

  write(row: unknown[]): void {
    this.writes.add(row);
  }

  get full(): boolean {
    return this.checkpoints.full || this.blobs.full || this.writes.full;
  }
}

/**
 * Seeds the database at `connectionString` (migrations already applied) over a single connection,
 * logging progress lines to `log`; the same options always produce the same rows.
 */
export async function seedDatabase(
  connectionString: string,
  options: SeedOptions,
  log: (line: string) => void = () => undefined,
): Promise<SeedSummary> {
  const opts = resolveSeedOptions(options);
  const started = performance.now();
  const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
  const now = opts.now.getTime();
  const tenants = Array.from({ length: opts.tenants }, (_, i) => tenantAt(i));

  const client = new Client({ connectionString });
  await client.connect();
  try {
    if (opts.reset) {
      await client.query(`TRUNCATE ${SEEDED_TABLES.join(', ')}`);
      log(`reset: truncated ${SEEDED_TABLES.join(', ')}`);
    } else {
      await assertNoSeedData(
        client,
        tenants.map((tenant) => tenant.id),
      );
    }
    const pipeline = new TransactionPipeline(client);
    const insertAll = (...buffers: RowBuffer[]) => pipeline.submit(buffers.flatMap((buffer) => buffer.drain()));

    // An upsert: existing tenants keep their API keys.
    const tenantRows = new RowBuffer(TENANTS_TABLE);
    tenants.forEach((tenant, i) => tenantRows.add([tenant.id, tenant.name, new Date(now - (400 - 30 * i) * DAY_MS).toISOString()]));
    for (const { text, values } of tenantRows.drain()) {
      await client.query(`${text} ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, created_at = EXCLUDED.created_at`, values);
    }
    log(`tenants: ${tenants.map((tenant) => tenant.id).join(', ')}`);

    const sessions = new RowBuffer(SESSIONS_TABLE);
    const messages = new RowBuffer(MESSAGES_TABLE);
    const sessionInput = (tenant: (typeof tenants)[number], index: number) => ({
      seed: opts.seed,
      tenantId: tenant.id,
      tenantName: tenant.name,
      index,
      now,
      messagesPerSession: opts.messagesPerSession,
    });
    // Written in time order, as a live system writes them: every tenant's sessions by start, each chunk's messages by
    // time. The tables' physical order then follows time as in production, where a walk of the newest rows reads
    // neighbouring rows; written session by session in random time order, each row of such a walk was on a page of its
    // own (docs/performance.md, "Search"). A session is generated twice (its start, then its rows), which costs
    // about 4 s per 100,000 sessions and keeps memory flat.
    const phase = performance.now();
    const order = tenants.flatMap((tenant) =>
      Array.from({ length: opts.sessions }, (_, index) => ({
        tenant,
        index,
        startedAt: Date.parse(generateSession(sessionInput(tenant, index)).session[5] as string),
      })),
    );
    order.sort((a, b) => a.startedAt - b.startedAt);
    const perTenant = new Map(tenants.map((tenant) => [tenant.id, { sessions: 0, messages: 0 }]));
    for (let from = 0; from < order.length; from += SESSION_CHUNK) {
      const chunk: unknown[][] = [];
      for (const { tenant, index } of order.slice(from, from + SESSION_CHUNK)) {
        const generated = generateSession(sessionInput(tenant, index));
        sessions.add(generated.session);
        chunk.push(...generated.messages);
        const counts = perTenant.get(tenant.id)!;
        counts.sessions += 1;
        counts.messages += generated.messages.length;
      }
      // Column 5 is created_at, an ISO-8601 string in UTC: text order is time order.
      chunk.sort((a, b) => ((a[5] as string) < (b[5] as string) ? -1 : (a[5] as string) > (b[5] as string) ? 1 : 0));
      for (const message of chunk) messages.add(message);
      await insertAll(sessions, messages);
      const done = Math.min(order.length, from + SESSION_CHUNK);
      if (done % 20_000 === 0 || done === order.length) log(`sessions: ${done}/${order.length} in time order`);
    }
    await pipeline.finish();
    for (const [tenantId, counts] of perTenant) {
      log(`sessions: ${tenantId} done, ${counts.sessions} sessions, ${counts.messages} messages`);
    }
    log(`sessions: all written in ${seconds(phase)}`);

    const rows = new CheckpointRows();
    const conversations = new RowBuffer(CONVERSATIONS_TABLE);
    const drain = async () => {
      if (rows.full) await insertAll(rows.checkpoints, rows.blobs, rows.writes);
    };
    for (const [t, tenant] of tenants.entries()) {
      const phase = performance.now();
      const input = { seed: opts.seed, tenantId: tenant.id, tenantName: tenant.name, now };
      for (let index = 0; index < opts.conversations; index++) {
        conversations.add(generateConversation(input, index, rows));
        await drain();
      }
      if (t === 0 && opts.longThreadSteps > 0) {
        const longPhase = performance.now();
        conversations.add(await generateLongThread(input, opts.longThreadSteps, rows, drain));
        await insertAll(rows.checkpoints, rows.blobs, rows.writes);
        await pipeline.finish();
        log(`conversations: ${tenant.id} long thread of ${opts.longThreadSteps} steps in ${seconds(longPhase)}`);
      }
      log(`conversations: ${tenant.id} done in ${seconds(phase)}`);
    }
    await insertAll(rows.checkpoints, rows.blobs, rows.writes, conversations);
    await pipeline.finish();

    return {
      tenants: tenants.length,
      sessions: sessions.count,
      messages: messages.count,
      conversations: conversations.count,
      checkpoints: rows.checkpoints.count,
      checkpointBlobs: rows.blobs.count,
      checkpointWrites: rows.writes.count,
      checkpointBytes: rows.blobs.byteCount + rows.writes.byteCount,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await client.end();
  }
}

async function assertNoSeedData(client: Client, tenantIds: string[]): Promise<void> {
  const result = await client.query<{ tenant_id: string }>(
    `SELECT tenant_id FROM sessions WHERE tenant_id = ANY($1)
     UNION SELECT tenant_id FROM conversations WHERE tenant_id = ANY($1)`,
    [tenantIds],
  );
  if (result.rows.length > 0) {
    const found = result.rows
      .map((row) => row.tenant_id)
      .sort()
      .join(', ');
    throw new Error(
      `Expected no sessions or conversations for the seeded tenants, found some for ${found}; pass reset (--reset) to replace them`,
    );
  }
}
