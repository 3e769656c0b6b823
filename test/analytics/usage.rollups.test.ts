import { Random } from '../../prisma/seed/random';
import { usageBuckets, usageSource, type UsageQuery } from '../../src/analytics/usage.repository';
import { UsageGroupBy } from '../../src/analytics/usage.type';
import type { TenantContext } from '../../src/core/context';
import { Prisma } from '../../src/generated/prisma/client';
import { sessionGid } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { UpdateSessionStatusDocument, UsageTilesDocument } from '../generated/operations';

// The rollups the triggers keep (migration usage_rollups) answer `usage` exactly as the scan of sessions and messages
// does: random sessions and messages are written, updated, moved, ended and deleted (through the API and by SQL, as
// any writer may), and after each round every grouping, over whole days, unaligned ranges and partial hours, with and
// without the filters the rollups answer, is compared with the scan's answer.

let server: TestServer;
const rng = new Random('usage-rollups');
const START = Date.parse('2026-11-01T00:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CHANNELS = ['web', 'app', 'phone'];
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet'];
const TENANTS = ['acme', 'globex'];

beforeAll(async () => {
  server = await startTestServer({
    MODEL_PRICES: '{"gpt-4o-mini":{"input":0.15,"output":0.6},"gpt-4o":{"input":2.5,"output":10}}',
    USAGE_CACHE_SECONDS: '0',
  });
});
afterAll(() => server?.close());

function contextOf(tenantId: string): TenantContext {
  return { viewer: { tenantId }, db: server.db, config: server.config } as unknown as TenantContext;
}

/** Random message metadata: every shape the scan reads, and some it skips. */
function metadata(role: string): Record<string, unknown> {
  if (role !== 'ASSISTANT') return rng.chance(0.2) ? { model: rng.pick(MODELS) } : {};
  const meta: Record<string, unknown> = {};
  if (rng.chance(0.9)) meta.model = rng.pick(MODELS);
  if (rng.chance(0.8)) meta.usage = { inputTokens: rng.int(0, 3000), outputTokens: rng.chance(0.9) ? rng.int(0, 800) : '12' };
  // Latencies repeat (the rollups count equal values), and some are not numbers.
  if (rng.chance(0.85))
    meta.latencyMs = rng.chance(0.3) ? rng.pick([250, 500, 1000]) : rng.chance(0.1) ? rng.float(1, 5000) : rng.int(100, 4000);
  else if (rng.chance(0.5)) meta.latencyMs = '300';
  return meta;
}

/** Inserts sessions and their messages by SQL, one multi-row statement each (a bulk writer). */
async function insertRandom(sessions: number): Promise<void> {
  const sessionRows: Prisma.Sql[] = [];
  const messageRows: Prisma.Sql[] = [];
  for (let i = 0; i < sessions; i++) {
    const id = rng.uuid();
    const tenant = rng.chance(0.8) ? 'acme' : 'globex';
    const startedAt = new Date(START + rng.int(0, 6 * DAY));
    const lastActivityAt = new Date(startedAt.getTime() + rng.int(0, 3 * HOUR));
    const status = rng.weighted([
      ['ACTIVE', 3],
      ['CLOSED', 2],
      ['EXPIRED', 1],
    ] as const);
    const endedAt = status === 'ACTIVE' ? null : new Date(lastActivityAt.getTime() + rng.int(0, 600_000));
    sessionRows.push(
      Prisma.sql`(${id}::uuid, ${tenant}, ${`ext_${id}`}, ${rng.pick(CHANNELS)}, ${status}::session_status, ${startedAt}, ${endedAt}, ${lastActivityAt})`,
    );
    for (let m = rng.int(0, 8); m > 0; m--) {
      const role = rng.pick(['USER', 'ASSISTANT', 'ASSISTANT', 'SYSTEM']);
      const createdAt = new Date(startedAt.getTime() + rng.int(0, 3 * HOUR));
      messageRows.push(
        Prisma.sql`(${rng.uuid()}::uuid, ${tenant}, ${id}::uuid, ${role}::message_role, 'hello', ${createdAt}, ${JSON.stringify(metadata(role))}::jsonb)`,
      );
    }
  }
  await server.db.prisma.$executeRaw`
    INSERT INTO sessions (id, tenant_id, external_id, channel, status, started_at, ended_at, last_activity_at)
    VALUES ${Prisma.join(sessionRows)}`;
  if (messageRows.length > 0) {
    await server.db.prisma.$executeRaw`
      INSERT INTO messages (id, tenant_id, session_id, role, content, created_at, metadata) VALUES ${Prisma.join(messageRows)}`;
  }
}

async function ids(sql: Prisma.Sql): Promise<string[]> {
  return (await server.db.prisma.$queryRaw<{ id: string }[]>(sql)).map((row) => row.id);
}

/** One round of changes: every kind of write that moves usage between buckets. */
async function changeRandom(): Promise<void> {
  const prisma = server.db.prisma;
  // End sessions through the API (the status moves their messages to another status bucket).
  const active = await ids(Prisma.sql`SELECT id FROM sessions WHERE tenant_id = 'acme' AND status = 'ACTIVE' ORDER BY id`);
  for (const id of active.filter(() => rng.chance(0.3))) {
    const response = await server.graphql(UpdateSessionStatusDocument, {
      input: { id: sessionGid({ id }), status: rng.chance(0.5) ? 'CLOSED' : 'EXPIRED' },
    });
    expect(response.errors).toBeUndefined();
    expect(response.data!.updateSessionStatus.userErrors).toEqual([]);
  }
  // By SQL: statuses and channels of many sessions at once (including back to ACTIVE, which only SQL can do).
  await prisma.$executeRaw`UPDATE sessions SET status = 'ACTIVE', ended_at = NULL WHERE id IN (
    SELECT id FROM sessions WHERE status <> 'ACTIVE' ORDER BY id LIMIT 3)`;
  await prisma.$executeRaw`UPDATE sessions SET channel = ${rng.pick(CHANNELS)} WHERE id IN (
    SELECT id FROM sessions ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 8)`;
  // Every open session of the first days ends (a day without open sessions is answered from usage_day_sessions alone).
  await prisma.$executeRaw`UPDATE sessions SET status = 'CLOSED', ended_at = last_activity_at + interval '90 seconds'
    WHERE status = 'ACTIVE' AND started_at < ${new Date(START + rng.int(1, 4) * DAY)}`;
  // Sessions' start and activity move (other day buckets, other durations).
  await prisma.$executeRaw`UPDATE sessions SET started_at = started_at - interval '13 hours', last_activity_at = last_activity_at + interval '7 minutes'
    WHERE id IN (SELECT id FROM sessions ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 5)`;
  // Messages: timestamps move across hours and days, metadata changes model, tokens and latency, some move to another
  // session of their tenant, some are deleted, and so is a whole session (its messages go by the cascade).
  await prisma.$executeRaw`UPDATE messages SET created_at = created_at + interval '1 day 37 minutes'
    WHERE id IN (SELECT id FROM messages ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 15)`;
  await prisma.$executeRaw`UPDATE messages SET metadata = ${JSON.stringify(metadata('ASSISTANT'))}::jsonb, role = 'ASSISTANT'
    WHERE id IN (SELECT id FROM messages ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 10)`;
  await prisma.$executeRaw`UPDATE messages m SET session_id = (
      SELECT s.id FROM sessions s WHERE s.tenant_id = m.tenant_id AND s.id <> m.session_id ORDER BY md5(s.id::text || m.id::text) LIMIT 1)
    WHERE m.id IN (SELECT id FROM messages ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 6)`;
  await prisma.$executeRaw`UPDATE messages SET content = 'edited' WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT 20)`;
  await prisma.$executeRaw`DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 12)`;
  await prisma.$executeRaw`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY md5(id::text || ${rng.int(0, 1e6)}) LIMIT 2)`;
}

/** Ranges: whole days, unaligned instants (partial hours and days at both ends, mostly in or mostly out), and less than an hour. */
function ranges(): { from: Date; to: Date }[] {
  const from = START + rng.int(0, 3 * DAY) + rng.int(1, 59) * 60_000 + rng.int(1, 59) * 1000;
  const inHour = START + rng.int(0, 6 * 24) * HOUR;
  return [
    { from: new Date(START - DAY), to: new Date(START + 9 * DAY) },
    { from: new Date(from), to: new Date(from + rng.int(2, 5) * DAY + rng.int(1, 23) * HOUR + rng.int(1, 59) * 60_000) },
    { from: new Date(START + 2 * DAY + 5 * HOUR), to: new Date(START + 4 * DAY + 20 * HOUR) },
    // Partial days mostly outside the range (their part in it is ranked; the ones above rank the day less the rest).
    { from: new Date(START + DAY + 20 * HOUR + 10 * 60_000), to: new Date(START + 5 * DAY + 3 * HOUR + 30 * 60_000) },
    { from: new Date(inHour + 10 * 60_000), to: new Date(inHour + 50 * 60_000) },
  ];
}

const FILTERS: Pick<UsageQuery, 'channel' | 'status'>[] = [
  { channel: null, status: null },
  { channel: ['web', 'phone'], status: null },
  { channel: null, status: ['ACTIVE'] as UsageQuery['status'] },
  { channel: ['app'], status: ['CLOSED', 'EXPIRED'] as UsageQuery['status'] },
];

/** Compares the API's answer (from the rollups) with the scan's, for every grouping, range and filter. */
async function expectRollupsEqualScan(): Promise<number> {
  let compared = 0;
  for (const tenantId of TENANTS) {
    const apiKey = await server.createKey(tenantId, ['read']);
    for (const range of ranges()) {
      for (const filter of FILTERS) {
        for (const groupBy of Object.values(UsageGroupBy)) {
          const query: UsageQuery = { ...range, groupBy, ...filter };
          expect(usageSource(contextOf(tenantId), query)).toBe('rollups');
          const scan = await usageBuckets(contextOf(tenantId), query, 'scan');
          const response = await server.graphql(
            UsageTilesDocument,
            { groupBy, filter: { from: range.from.toISOString(), to: range.to.toISOString(), ...filter } },
            { apiKey },
          );
          expect(response.errors).toBeUndefined();
          const timed = groupBy === UsageGroupBy.DAY || groupBy === UsageGroupBy.WEEK;
          expect({ groupBy, range, filter, buckets: response.data!.usage.buckets }).toEqual({
            groupBy,
            range,
            filter,
            buckets: scan.map((bucket) => ({ ...bucket, start: timed ? `${bucket.key}T00:00:00.000Z` : null })),
          });
          compared += scan.length;
        }
      }
    }
  }
  return compared;
}

it('answers as the scan after random writes, updates, ends and deletes, round after round', async () => {
  await insertRandom(60);
  let buckets = await expectRollupsEqualScan();
  for (let round = 0; round < 3; round++) {
    await changeRandom();
    await insertRandom(15);
    buckets += await expectRollupsEqualScan();
  }
  // The comparisons compared something: buckets with sessions, messages and latencies.
  expect(buckets).toBeGreaterThan(500);
  // And days both with and without open sessions (the latter answered from usage_day_sessions alone).
  const [days] = await server.db.prisma.$queryRaw<{ closed: number; open: number }[]>`
    SELECT count(*) FILTER (WHERE open = 0)::int AS closed, count(*) FILTER (WHERE open > 0)::int AS open FROM usage_day_sessions`;
  expect(days!.closed).toBeGreaterThan(2);
  expect(days!.open).toBeGreaterThan(2);
  // The days' rows, kept by applying each statement's changes, equal their recomputation from the sessions table.
  const [drift] = await server.db.prisma.$queryRaw<{ rows: number }[]>`
    SELECT count(*)::int AS rows FROM (
      (SELECT tenant_id, day, durations, open FROM usage_day_sessions
       EXCEPT ALL
       SELECT tenant_id, day, coalesce(array_agg(duration ORDER BY duration) FILTER (WHERE ended), '{}'), count(*) FILTER (WHERE NOT ended)::int
       FROM (SELECT tenant_id, date_trunc('day', started_at AT TIME ZONE 'UTC')::date AS day, ended_at IS NOT NULL AS ended,
               extract(epoch FROM coalesce(ended_at, last_activity_at) - started_at)::float8 AS duration FROM sessions) s
       GROUP BY 1, 2)
      UNION ALL
      (SELECT tenant_id, date_trunc('day', started_at AT TIME ZONE 'UTC')::date, NULL::float8[], NULL::int FROM sessions
       EXCEPT SELECT tenant_id, day, NULL, NULL FROM usage_day_sessions)
    ) d`;
  expect(drift!.rows).toBe(0);
});

it('falls back to the scan for the filters the rollups do not carry, with the same answer through the API', async () => {
  const range = { from: new Date(START - DAY), to: new Date(START + 9 * DAY) };
  for (const extra of [
    { metadata: { plan: 'pro' } },
    { text: 'hello' },
    { hasErrors: false },
    { toolName: ['lookup'] },
    { model: ['gpt-4o'] },
  ]) {
    const query: UsageQuery = { ...range, groupBy: UsageGroupBy.DAY, channel: null, status: null, ...extra };
    expect(usageSource(contextOf('acme'), query)).toBe('scan');
    const response = await server.graphql(UsageTilesDocument, {
      groupBy: 'DAY',
      filter: { from: range.from.toISOString(), to: range.to.toISOString(), ...extra },
    });
    expect(response.errors).toBeUndefined();
    const scan = await usageBuckets(contextOf('acme'), query, 'scan');
    expect(response.data!.usage.buckets).toEqual(scan.map((bucket) => ({ ...bucket, start: `${bucket.key}T00:00:00.000Z` })));
  }
});

it('keeps no empty rollup rows: deleting every message empties them, and TRUNCATE empties them for every tenant', async () => {
  const counts = () =>
    server.db.prisma.$queryRaw<{ tenant_id: string; n: number }[]>`
      SELECT tenant_id, count(*)::int AS n FROM (
        SELECT tenant_id FROM usage_message_rollups UNION ALL SELECT tenant_id FROM usage_session_models
        UNION ALL SELECT tenant_id FROM usage_latency_rollups UNION ALL SELECT tenant_id FROM usage_day_latencies
        UNION ALL SELECT tenant_id FROM usage_day_latency_ranks UNION ALL SELECT tenant_id FROM usage_hour_latencies
        UNION ALL SELECT tenant_id FROM usage_day_message_rollups) r
      GROUP BY 1 ORDER BY 1`;
  expect((await counts()).map((row) => row.tenant_id)).toEqual(['acme', 'globex']);
  await server.db.prisma.$executeRaw`DELETE FROM messages WHERE tenant_id = 'acme'`;
  expect((await counts()).map((row) => row.tenant_id)).toEqual(['globex']);
  await server.db.prisma.$executeRaw`TRUNCATE messages`;
  expect(await counts()).toEqual([]);
  // And the usage of what is left (sessions without messages) is still the scan's.
  const query: UsageQuery = {
    from: new Date(START - DAY),
    to: new Date(START + 9 * DAY),
    groupBy: UsageGroupBy.DAY,
    channel: null,
    status: null,
  };
  expect(await usageBuckets(contextOf('acme'), query, 'rollups')).toEqual(await usageBuckets(contextOf('acme'), query, 'scan'));
  // The sessions' day rows go with their sessions: deleted, and truncated.
  const daySessions = async () =>
    (await server.db.prisma.$queryRaw<{ tenant_id: string }[]>`SELECT DISTINCT tenant_id FROM usage_day_sessions ORDER BY 1`).map(
      (row) => row.tenant_id,
    );
  expect(await daySessions()).toEqual(['acme', 'globex']);
  await server.db.prisma.$executeRaw`DELETE FROM sessions WHERE tenant_id = 'acme'`;
  expect(await daySessions()).toEqual(['globex']);
  await server.db.prisma.$executeRaw`TRUNCATE sessions CASCADE`;
  expect(await daySessions()).toEqual([]);
});
