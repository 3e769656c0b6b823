import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Job } from '../core/jobs';

/** Rows expired per statement, so a backlog never holds many row locks at once. */
const BATCH_SIZE = 1000;

/**
 * Marks ACTIVE sessions idle for longer than the configured time EXPIRED, with `endedAt` = last
 * activity + idle time (the moment they became idle for too long). Runs across all tenants; replicas
 * running it at once split the work (`FOR UPDATE SKIP LOCKED`) and never expire a session twice.
 */
export function sessionExpiryJob(db: Database, config: Config, now: () => Date = () => new Date()): Job {
  const idleMinutes = config.jobs.sessionIdleTimeoutMinutes;
  return {
    name: 'session-expiry',
    intervalMs: config.jobs.sessionExpiryIntervalSeconds * 1000,
    async run() {
      const cutoff = new Date(now().getTime() - idleMinutes * 60_000);
      let expired = 0;
      for (;;) {
        const count = await db.prisma.$executeRaw`
          UPDATE sessions
          SET status = 'EXPIRED', ended_at = last_activity_at + make_interval(mins => ${idleMinutes}::int)
          WHERE id IN (
            SELECT id FROM sessions
            WHERE status = 'ACTIVE' AND last_activity_at < ${cutoff}
            ORDER BY last_activity_at
            LIMIT ${BATCH_SIZE}
            FOR UPDATE SKIP LOCKED
          )`;
        expired += count;
        if (count < BATCH_SIZE) break;
      }
      return { expired, idleMinutes };
    },
  };
}
