import { TEST_DATABASE_ENV, TEST_DATABASE_PREFIX, quoteIdent, testServerUrl, withAdmin } from './database';

/** Drops this run's template and any test database a crashed test file left behind. */
export default async function globalTeardown(): Promise<void> {
  const server = testServerUrl();
  const runId = process.env[TEST_DATABASE_ENV.runId];
  if (!server || !runId) return;
  await withAdmin(server, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [
      `${TEST_DATABASE_PREFIX}${runId}_`,
    ]);
    for (const { datname } of rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    }
  });
}
