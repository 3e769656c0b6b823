import { applyMigrations } from '../../src/db/migrations';
import { LIVE_EVENTS_CHANNEL, listenOnPostgres } from '../../src/db/notifications';
import { postgresBinDir, PostgresToolsMissingError, startReplicaCluster, type ReplicaCluster } from '../../bench/replica-cluster';
import type { TestDatabase } from './database';

export type { ReplicaCluster };

/**
 * Whether this machine can run the read-replica tests, i.e. has PostgreSQL's server tools. On CI (CI=true) their absence
 * is a failure, not a skip: the caller's test then fails with the reason. Elsewhere the tests skip, saying why.
 */
export function replicaToolsAvailable(): { available: true } | { available: false; reason: string } {
  try {
    postgresBinDir();
    return { available: true };
  } catch (error) {
    if (!(error instanceof PostgresToolsMissingError)) throw error;
    if (process.env.CI === 'true') return { available: true };
    return { available: false, reason: error.message };
  }
}

/** A throwaway primary + streaming replica with convoql's database migrated on the primary and replayed on the replica. */
export async function startMigratedReplicaCluster(): Promise<{ cluster: ReplicaCluster; primary: TestDatabase }> {
  const cluster = await startReplicaCluster();
  try {
    await applyMigrations(cluster.primaryUrl);
    await cluster.waitForReplay();
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const primary: TestDatabase = {
    url: cluster.primaryUrl,
    external: true,
    liveEvents: () => listenOnPostgres(cluster.primaryUrl, LIVE_EVENTS_CHANNEL),
    // The cluster's close removes it.
    drop: async () => undefined,
  };
  return { cluster, primary };
}
