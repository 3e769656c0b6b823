import type { RequestHandler } from 'express';
import type { Database } from '../db/client';
import type { ReadReplicas } from '../db/read-replicas';
import type { SharedStoreStatus } from '../db/redis';
import { defaultMigrationPaths, readMigrations } from '../db/migrations';

/** How long a readiness answer is reused, so probes do not load the database. */
const READINESS_CACHE_MS = 2_000;

/**
 * `/readyz`: 200 when the database answers and every migration on disk is applied, 503 with the
 * reason otherwise. A load balancer stops routing to the replica meanwhile; the process keeps running
 * and turns ready again by itself when the database is back. A Redis (REDIS_URL) that does not answer
 * keeps it ready, since it serves with per-process state, and is reported as
 * `{"status": "degraded", "degraded": {"redis": "<reason>"}}` with 200 until Redis answers again.
 *
 * With read replicas (DATABASE_READ_URL) the body lists each one's state (`replicas`). A replica that is down does not
 * make the server unready (its reads go to another replica or the primary): the answer stays 200 with
 * `{"status": "degraded", "degraded": {"replicas": "<reason>"}}`.
 */
export function readinessHandler(
  db: Database,
  redis: SharedStoreStatus | null = null,
  replicas: ReadReplicas | null = null,
): RequestHandler {
  let expected: Promise<string[]> | undefined;
  let cached: { at: number; status: number; body: object } | undefined;
  return async (_request, response) => {
    if (!cached || Date.now() - cached.at > READINESS_CACHE_MS) {
      expected ??= readMigrations(defaultMigrationPaths().migrationsDir).then((list) =>
        list.migrationDirectories.map((migration) => migration.path),
      );
      cached = { at: Date.now(), ...(await checkReadiness(db, await expected)) };
    }
    // Redis's and the replicas' states are this process's own knowledge, kept by their checks: current at every probe.
    const degraded: Record<string, string> = {};
    const redisDegraded = redis?.degradedReason ?? null;
    if (redisDegraded !== null) degraded.redis = redisDegraded;
    const states = replicas?.status();
    const down = states?.filter((replica) => replica.state === 'down') ?? [];
    if (states && down.length > 0) {
      degraded.replicas = `${down.length} of ${states.length} read replica${states.length === 1 ? '' : 's'} down; reads go to ${
        down.length === states.length ? 'the primary' : 'the others'
      }`;
    }
    const body = cached.status === 200 && Object.keys(degraded).length > 0 ? { status: 'degraded', degraded } : cached.body;
    response.status(cached.status).json(states ? { ...body, replicas: states } : body);
  };
}

async function checkReadiness(db: Database, expected: string[]): Promise<{ status: number; body: object }> {
  let applied: { migration_name: string }[];
  try {
    // Through the server's own pool: the embedded database serves one connection at a time.
    applied = await db.prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
  } catch (error) {
    const missingTable = /_prisma_migrations/.test(String((error as Error).message));
    return { status: 503, body: { status: 'unavailable', reason: missingTable ? 'migrations pending' : 'database unreachable' } };
  }
  const done = new Set(applied.map((row) => row.migration_name));
  const pending = expected.filter((name) => !done.has(name));
  if (pending.length > 0) return { status: 503, body: { status: 'unavailable', reason: 'migrations pending', pending } };
  return { status: 200, body: { status: 'ready' } };
}
