import { seedDatabase } from '../../prisma/seed';
import { createTestDatabase } from '../helpers/database';
import { SMALL_SEED, createSeededDatabase, tableHashes, withClient, type SeededDatabase } from './seed-helpers';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Problems of one message's metadata against the shape the API reads (all keys optional). */
function metadataProblems(role: string, meta: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  const exactKeys = (value: unknown, required: string[], optional: string[], what: string) => {
    const keys = value && typeof value === 'object' ? Object.keys(value) : [];
    for (const key of required) expect(keys.includes(key), `${what} lacks ${key}`);
    for (const key of keys) expect(required.includes(key) || optional.includes(key), `${what} has unexpected ${key}`);
  };
  const isInt = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;
  exactKeys(meta, [], ['model', 'usage', 'latencyMs', 'retrieval', 'toolCalls', 'errors'], 'metadata');
  if ('model' in meta) expect(typeof meta.model === 'string', 'model');
  if ('latencyMs' in meta) expect(isInt(meta.latencyMs), 'latencyMs');
  if ('usage' in meta) {
    exactKeys(meta.usage, ['inputTokens', 'outputTokens'], [], 'usage');
    const usage = meta.usage as Record<string, unknown>;
    expect(isInt(usage.inputTokens) && isInt(usage.outputTokens), 'usage tokens');
  }
  for (const hit of (meta.retrieval as Record<string, unknown>[] | undefined) ?? []) {
    exactKeys(hit, ['source', 'score', 'snippet'], [], 'retrieval');
    expect(typeof hit.score === 'number' && hit.score >= 0 && hit.score <= 1, 'retrieval score');
  }
  for (const call of (meta.toolCalls as Record<string, unknown>[] | undefined) ?? []) {
    const failed = call.status === 'error';
    exactKeys(call, ['id', 'name', 'arguments', 'status', 'durationMs', ...(failed ? ['error'] : ['result'])], [], 'toolCall');
    expect(call.status === 'success' || failed, 'toolCall status');
    expect(typeof call.arguments === 'object' && isInt(call.durationMs), 'toolCall arguments/durationMs');
  }
  for (const error of (meta.errors as Record<string, unknown>[] | undefined) ?? []) {
    exactKeys(error, ['message', 'code', 'at'], [], 'error');
    expect(typeof error.at === 'string' && ISO.test(error.at), 'error.at');
  }
  if (role === 'USER') expect(Object.keys(meta).length === 0, 'USER metadata is empty');
  if (role === 'TOOL') exactKeys(meta, ['toolCalls'], [], 'TOOL metadata');
  if (role === 'ASSISTANT') exactKeys(meta, ['model', 'latencyMs'], ['usage', 'retrieval', 'toolCalls', 'errors'], 'ASSISTANT metadata');
  return problems;
}

describe('seedDatabase', () => {
  let seeded: SeededDatabase;

  beforeAll(async () => {
    seeded = await createSeededDatabase();
  }, 120_000);

  afterAll(async () => {
    await seeded?.db.drop();
  });

  it('writes the same rows for the same options, and other rows for another seed', async () => {
    const other = await createSeededDatabase();
    const reseeded = await createSeededDatabase({ ...SMALL_SEED, seed: 8 });
    try {
      const expected = await tableHashes(seeded.db.url);
      expect(await tableHashes(other.db.url)).toEqual(expected);
      const different = await tableHashes(reseeded.db.url);
      for (const table of ['sessions', 'messages', 'conversations', 'checkpoints', 'checkpoint_blobs']) {
        expect(different[table]).not.toEqual(expected[table]);
      }
    } finally {
      await other.db.drop();
      await reseeded.db.drop();
    }
  }, 180_000);

  it('refuses to seed over existing data without reset, and reset reproduces the same rows', async () => {
    const before = await tableHashes(seeded.db.url);
    await expect(seedDatabase(seeded.db.url, SMALL_SEED)).rejects.toThrow(/found some for acme, globex; pass reset/);
    await seedDatabase(seeded.db.url, { ...SMALL_SEED, reset: true });
    expect(await tableHashes(seeded.db.url)).toEqual(before);
  }, 120_000);

  it('writes the counts it reports', async () => {
    const { summary } = seeded;
    const counts = await withClient(seeded.db.url, async (client) => {
      const { rows } = await client.query<Record<string, string>>(`SELECT
        (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM sessions) AS sessions,
        (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM conversations) AS conversations,
        (SELECT count(*) FROM checkpoints) AS checkpoints, (SELECT count(*) FROM checkpoint_blobs) AS blobs,
        (SELECT count(*) FROM checkpoint_writes) AS writes, (SELECT count(*) FROM api_keys) AS api_keys`);
      return Object.fromEntries(Object.entries(rows[0]).map(([key, value]) => [key, Number(value)]));
    });
    expect(counts).toEqual({
      tenants: 2,
      sessions: 80,
      messages: summary.messages,
      conversations: 21,
      checkpoints: summary.checkpoints,
      blobs: summary.checkpointBlobs,
      writes: summary.checkpointWrites,
      api_keys: 0,
    });
    expect(summary).toMatchObject({ tenants: 2, sessions: 80, conversations: 21 });
    // messagesPerSession is an average: each session draws 0.4–1.6 times it.
    expect(summary.messages / summary.sessions).toBeGreaterThan(6);
    expect(summary.messages / summary.sessions).toBeLessThan(10);
  });

  it('writes messages in time order, as a live system appends them', async () => {
    // The planner's measure of how closely the table's physical order follows created_at (1: exactly). Not exactly 1:
    // a row too long for a page's free space starts the next page, and later shorter rows fill the gap.
    const correlation = await withClient(seeded.db.url, async (client) => {
      await client.query('ANALYZE messages');
      const { rows } = await client.query<{ correlation: number }>(
        `SELECT correlation FROM pg_stats WHERE schemaname = 'public' AND tablename = 'messages' AND attname = 'created_at'`,
      );
      return rows[0]!.correlation;
    });
    expect(correlation).toBeGreaterThan(0.95);
  });

  it('names tenants acme, globex, initech, then tenant-N', async () => {
    const db = await createTestDatabase();
    try {
      await seedDatabase(db.url, { tenants: 5, sessions: 1, messagesPerSession: 1, conversations: 0 });
      const ids = await withClient(db.url, async (client) =>
        (await client.query<{ id: string }>('SELECT id FROM tenants ORDER BY created_at')).rows.map((row) => row.id),
      );
      expect(ids).toEqual(['acme', 'globex', 'initech', 'tenant-4', 'tenant-5']);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('gives every message metadata of the documented shape, and every role', async () => {
    const rows = await withClient(
      seeded.db.url,
      async (client) =>
        (await client.query<{ role: string; metadata: Record<string, unknown> }>('SELECT role::text, metadata FROM messages')).rows,
    );
    const problems = rows.flatMap((row) => metadataProblems(row.role, row.metadata).map((p) => `${row.role}: ${p}`));
    expect([...new Set(problems)]).toEqual([]);
    expect(new Set(rows.map((row) => row.role))).toEqual(new Set(['USER', 'ASSISTANT', 'SYSTEM', 'TOOL']));
    const metas = rows.map((row) => row.metadata);
    const calls = metas.flatMap((meta) => (meta.toolCalls as { status: string }[] | undefined) ?? []);
    expect(calls.some((call) => call.status === 'error')).toBe(true);
    expect(metas.some((meta) => Array.isArray(meta.retrieval))).toBe(true);
    expect(metas.some((meta) => Array.isArray(meta.errors))).toBe(true);
    expect(metas.some((meta) => (meta.toolCalls as unknown[] | undefined)?.length === 2)).toBe(true);
  });

  it('keeps sessions, messages and times consistent', async () => {
    const violations = await withClient(seeded.db.url, async (client) => {
      const { rows } = await client.query<Record<string, string>>(`SELECT
        (SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.tenant_id <> m.tenant_id) AS tenant_mismatch,
        (SELECT count(*) FROM sessions WHERE status = 'ACTIVE' AND ended_at IS NOT NULL) AS active_ended,
        (SELECT count(*) FROM sessions WHERE status <> 'ACTIVE' AND (ended_at IS NULL OR ended_at < last_activity_at)) AS closed_not_ended,
        (SELECT count(*) FROM sessions WHERE status = 'EXPIRED' AND ended_at <> last_activity_at + interval '30 minutes') AS expired_not_idle,
        (SELECT count(*) FROM sessions WHERE status = 'ACTIVE' AND last_activity_at < timestamptz '2026-01-15T12:00:00Z' - interval '30 minutes') AS active_stale,
        (SELECT count(*) FROM sessions WHERE started_at > last_activity_at OR last_activity_at > timestamptz '2026-01-15T12:00:00Z' OR ended_at > timestamptz '2026-01-15T12:00:00Z') AS bad_times,
        (SELECT count(*) FROM sessions s WHERE s.last_activity_at <> coalesce((SELECT max(created_at) FROM messages m WHERE m.session_id = s.id), s.started_at)) AS last_activity,
        (SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.created_at < s.started_at) AS before_start,
        (SELECT count(*) FROM (SELECT created_at, lag(created_at) OVER (PARTITION BY session_id ORDER BY created_at, id) AS previous FROM messages) t WHERE created_at = previous) AS same_time,
        (SELECT count(*) FROM sessions WHERE external_id !~ '^sess_[0-9A-Za-z]+$') AS external_ids`);
      return rows[0];
    });
    expect(Object.fromEntries(Object.entries(violations).map(([key, value]) => [key, Number(value)]))).toEqual({
      tenant_mismatch: 0,
      active_ended: 0,
      closed_not_ended: 0,
      expired_not_idle: 0,
      active_stale: 0,
      bad_times: 0,
      last_activity: 0,
      before_start: 0,
      same_time: 0,
      external_ids: 0,
    });
    const spread = await withClient(
      seeded.db.url,
      async (client) =>
        (await client.query<{ channel: string; status: string }>('SELECT DISTINCT channel, status::text FROM sessions')).rows,
    );
    expect(new Set(spread.map((row) => row.status))).toEqual(new Set(['ACTIVE', 'CLOSED', 'EXPIRED']));
    expect(new Set(spread.map((row) => row.channel)).size).toBeGreaterThanOrEqual(4);
  });
});
