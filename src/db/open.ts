import { Client } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDatabase, type Database } from './client';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';
import { applyMigrations } from './migrations';

/** Thrown when the database cannot be opened at start-up; its message is one line. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** The database the server runs on, embedded or external. */
export interface OpenedDatabase {
  readonly db: Database;
  readonly connectionString: string;
  /** The embedded PGlite, when no DATABASE_URL was configured. */
  readonly embedded: EmbeddedPostgres | null;
  /** True when the embedded database was created by this start (it then receives demo data). */
  close(): Promise<void>;
}

/**
 * Opens DATABASE_URL, or the embedded PGlite in DATA_DIR when it is unset; applies migrations on the
 * embedded default or when asked. `beforeClient` runs with the migrated database before the Prisma
 * pool opens (PGlite serves one connection at a time).
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  beforeClient?: (connectionString: string, embedded: boolean) => Promise<void>,
): Promise<OpenedDatabase> {
  const embedded = config.database.url ? null : await startEmbedded(config, logger);
  const connectionString = embedded?.connectionString ?? config.database.url!;
  try {
    await assertReachable(connectionString);
    if (embedded || config.database.migrateOnStart) {
      const { applied } = await applyMigrations(connectionString, { logger });
      logger.info({ applied: applied.length }, applied.length ? 'applied migrations' : 'migrations are current');
    }
    await beforeClient?.(connectionString, embedded !== null);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  // PGlite is a single backend session: interleaved connections corrupt each other's queries.
  const db = createDatabase(connectionString, {
    poolMax: embedded ? 1 : config.database.poolMax,
    // PGlite keeps one backend session across reconnections, with the statements an earlier connection prepared.
    preparedStatements: !embedded && config.database.preparedStatements,
    onPoolError: (error) => logger.warn({ err: error }, 'lost a database connection; a new one is opened on next use'),
  });
  return {
    db,
    connectionString,
    embedded,
    close: async () => {
      await db.close();
      await embedded?.stop();
    },
  };
}

async function startEmbedded(config: Config, logger: Logger): Promise<EmbeddedPostgres> {
  try {
    const embedded = await startEmbeddedPostgres({ dataDir: config.database.dataDir });
    logger.info({ dataDir: config.database.dataDir }, 'embedded PostgreSQL (PGlite) started');
    return embedded;
  } catch (error) {
    throw new StartupError(`Cannot start the embedded PostgreSQL in ${config.database.dataDir}: ${(error as Error).message}`);
  }
}

/** Connects once to fail fast, in one line, on a wrong host, port, database or credentials. */
async function assertReachable(connectionString: string): Promise<void> {
  const client = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const url = new URL(connectionString);
    const where = `${url.hostname}:${url.port || 5432}${url.pathname}`;
    throw new StartupError(
      `Cannot connect to PostgreSQL at ${where}: ${(error as Error).message || (error as { code?: string }).code || 'unknown error'}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
