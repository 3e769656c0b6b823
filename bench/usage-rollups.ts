// The usage-rollups scenario: uncached `usage(groupBy: DAY)` over 30 and 366 days computed by the scan of sessions and
// messages and by the rollups the triggers keep (the same repository function, both sources, alternately), the answers
// compared; then the triggers' cost on a bulk insert of messages (rolled back, so the dataset is unchanged).
import 'reflect-metadata';
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { createConfig } from '../src/config';
import { createDatabase } from '../src/db/client';
import type { TenantContext } from '../src/core/context';
import { createLogger } from '../src/logger';
import { usageBuckets, type UsageQuery, type UsageSource } from '../src/analytics/usage.repository';
import { UsageGroupBy } from '../src/analytics/usage.type';
import type { BenchDatabase, Fixtures } from './dataset';
import { round, type TargetCheck } from './report';

/** The key of the scenario for --only. */
export const USAGE_ROLLUPS_KEY = 'usage-rollups';
const DAY_MS = 86_400_000;
/** Timed runs of each source per range (after one warm-up run of each). */
const RUNS = 3;
/** Messages of the bulk insert. */
const BULK_MESSAGES = 10_000;
/** The target: the rollups at least this many times faster than the scan. */
const TARGET_SPEEDUP = 20;

/** Figures of one range. */
export interface UsageRollupsRange {
  days: number;
  buckets: number;
  equal: boolean;
  scanMs: number[];
  rollupsMs: number[];
  scanMedianMs: number;
  rollupsMedianMs: number;
  speedup: number;
}

/** Figures of the bulk insert with and without the triggers. */
export interface UsageRollupsInsert {
  messages: number;
  withoutTriggersMs: number[];
  withTriggersMs: number[];
  overhead: number;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs the scenario and returns its figures and target checks. */
export async function runUsageRollups(
  database: BenchDatabase,
  fixtures: Fixtures,
  log: (line: string) => void,
): Promise<{ ranges: UsageRollupsRange[]; insert: UsageRollupsInsert; targets: TargetCheck[] }> {
  const config = createConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
  const db = createDatabase(database.url, { poolMax: 1 });
  const context = {
    requestId: 'bench-usage-rollups',
    viewer: { apiKeyId: 'bench', apiKeyName: 'bench', scopes: new Set(['read']), tenantId: fixtures.tenantId, admin: false },
    db,
    config,
    logger: createLogger(config),
  } as unknown as TenantContext;
  const ranges: UsageRollupsRange[] = [];
  try {
    for (const days of [30, 366]) {
      const query: UsageQuery = {
        from: new Date(fixtures.now.getTime() - days * DAY_MS),
        to: fixtures.now,
        groupBy: UsageGroupBy.DAY,
        channel: null,
        status: null,
      };
      const timed = async (source: UsageSource) => {
        const started = performance.now();
        const buckets = await usageBuckets(context, query, source);
        return { buckets, ms: performance.now() - started };
      };
      const scan = await timed('scan');
      const rollups = await timed('rollups');
      const equal = isDeepStrictEqual(scan.buckets, rollups.buckets);
      const scanMs: number[] = [];
      const rollupsMs: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        scanMs.push((await timed('scan')).ms);
        rollupsMs.push((await timed('rollups')).ms);
      }
      const range = {
        days,
        buckets: rollups.buckets.length,
        equal,
        scanMs: scanMs.map((ms) => round(ms, 1)),
        rollupsMs: rollupsMs.map((ms) => round(ms, 1)),
        scanMedianMs: round(median(scanMs), 1),
        rollupsMedianMs: round(median(rollupsMs), 1),
        speedup: round(median(scanMs) / median(rollupsMs), 1),
      };
      log(
        `  usage DAY over ${days} days (${range.buckets} buckets): scan ${range.scanMedianMs} ms, rollups ${range.rollupsMedianMs} ms ` +
          `(${range.speedup}x), answers ${equal ? 'equal' : 'DIFFERENT'}`,
      );
      ranges.push(range);
    }
  } finally {
    await db.close();
  }
  const insert = await bulkInsertCost(database.url, fixtures.tenantId);
  log(
    `  bulk insert of ${insert.messages} messages: ${median(insert.withoutTriggersMs).toFixed(0)} ms without the rollup triggers, ` +
      `${median(insert.withTriggersMs).toFixed(0)} ms with them (${insert.overhead}x)`,
  );
  const targets: TargetCheck[] = ranges.flatMap((range) => [
    {
      target: `usage DAY ${range.days} days: rollups >= ${TARGET_SPEEDUP}x the scan`,
      measured: `${range.speedup}x (${range.scanMedianMs} -> ${range.rollupsMedianMs} ms)`,
      met: range.speedup >= TARGET_SPEEDUP,
    },
    {
      target: `usage DAY ${range.days} days: rollups answer = scan answer`,
      measured: range.equal ? 'equal' : 'different',
      met: range.equal,
    },
  ]);
  return { ranges, insert, targets };
}

/**
 * Inserts copies of the tenant's latest messages (same sessions, metadata and sizes; one second later) in one
 * statement, with the rollup triggers and with them disabled, alternately, each in a transaction rolled back.
 */
async function bulkInsertCost(url: string, tenantId: string): Promise<UsageRollupsInsert> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const withoutTriggersMs: number[] = [];
  const withTriggersMs: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const triggers of [false, true]) {
        await client.query('BEGIN');
        try {
          await client.query(
            `CREATE TEMPORARY TABLE bench_bulk_messages ON COMMIT DROP AS
             SELECT gen_random_uuid() AS id, tenant_id, session_id, role, content, created_at + interval '1 second' AS created_at, metadata
             FROM messages WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT ${BULK_MESSAGES}`,
            [tenantId],
          );
          if (!triggers) {
            for (const name of ['insert', 'update', 'delete'])
              await client.query(`ALTER TABLE messages DISABLE TRIGGER usage_rollup_messages_${name}`);
          }
          const started = performance.now();
          await client.query(
            'INSERT INTO messages (id, tenant_id, session_id, role, content, created_at, metadata) SELECT * FROM bench_bulk_messages',
          );
          (triggers ? withTriggersMs : withoutTriggersMs).push(round(performance.now() - started, 1));
        } finally {
          await client.query('ROLLBACK');
        }
      }
    }
  } finally {
    await client.end();
  }
  return {
    messages: BULK_MESSAGES,
    withoutTriggersMs,
    withTriggersMs,
    overhead: round(median(withTriggersMs) / median(withoutTriggersMs), 2),
  };
}
