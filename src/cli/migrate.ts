import { startEmbeddedPostgres } from '../db/embedded';
import { applyMigrations } from '../db/migrations';
import { cliConfig, describeUrl } from './cli-support';

/** `convoql migrate`: applies pending migrations to DATABASE_URL, or to the embedded PGlite in DATA_DIR when it is unset. */
export async function migrate(): Promise<void> {
  const { database } = cliConfig();
  const embedded = database.url ? null : await startEmbeddedPostgres({ dataDir: database.dataDir });
  const target = embedded ? `the embedded PostgreSQL in ${database.dataDir}` : describeUrl(database.url!);
  try {
    const { applied } = await applyMigrations(embedded?.connectionString ?? database.url!);
    for (const name of applied) console.log(`Applied ${name}`);
    console.log(
      applied.length === 0
        ? `No pending migrations: ${target} is up to date.`
        : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${target}.`,
    );
  } finally {
    await embedded?.stop();
  }
}
