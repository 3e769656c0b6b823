import { loadConfig } from '../config';
import { startEmbeddedPostgres } from '../db/embedded';
import { applyMigrations } from '../db/migrations';

// `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded PGlite in
// DATA_DIR when DATABASE_URL is unset.
async function main(): Promise<void> {
  const { database } = loadConfig(process.env);
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

// Never print the password.
function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

main().catch((error: unknown) => {
  console.error(`db:migrate failed: ${oneLine(error)}`);
  process.exitCode = 1;
});

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}
