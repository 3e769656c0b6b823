import { Client } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDatabase, type Database } from './client';
import type { EmbeddedPostgres } from './embedded';
import { applyMigrations, defaultMigrationPaths, pendingMigrations, readMigrations } from './migrations';

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

/** How {@link openDatabase} treats a database whose migrations are not all applied (when it does not migrate it). */
export interface OpenDatabaseOptions {
  /** Runs with the migrated database before the Prisma pool opens (PGlite serves one connection at a time). */
  beforeClient?: (connectionString: string, embedded: boolean) => Promise<void>;
  /**
   * Accept a database that has some but not all migrations (the server: it serves, reports not ready on /readyz and
   * waits for a deploy's migration step); a database that was never migrated is always refused. Default false.
   */
  allowPendingMigrations?: boolean;
}

/**
 * Opens DATABASE_URL, or the embedded PGlite in DATA_DIR when it is unset; applies migrations on the
 * embedded default or when asked (MIGRATE_ON_START, `--migrate`). Otherwise a database that was never migrated is
 * refused with a StartupError that names the command migrating it, instead of failing later on every statement.
 */
export async function openDatabase(config: Config, logger: Logger, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase> {
  const embedded = config.database.url ? null : await startEmbedded(config, logger);
  const connectionString = embedded?.connectionString ?? config.database.url!;
  try {
    await assertReachable(connectionString);
    if (embedded || config.database.migrateOnStart) {
      const { applied } = await applyMigrations(connectionString, { logger });
      logger.info({ applied: applied.length }, applied.length ? 'applied migrations' : 'migrations are current');
    } else {
      await assertMigrated(connectionString, logger, options.allowPendingMigrations ?? false);
    }
    await options.beforeClient?.(connectionString, embedded !== null);
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
    // Loaded only here: PGlite and its socket server cost a server on DATABASE_URL memory for nothing.
    const { startEmbeddedPostgres } = await import('./embedded');
    const embedded = await startEmbeddedPostgres({ dataDir: config.database.dataDir });
    logger.info({ dataDir: config.database.dataDir }, 'embedded PostgreSQL (PGlite) started');
    return embedded;
  } catch (error) {
    throw new StartupError(`Cannot start the embedded PostgreSQL in ${config.database.dataDir}: ${(error as Error).message}`);
  }
}

/** The command that migrates the configured database, as the one-line errors name it. */
export const MIGRATE_COMMAND = 'npx convoql migrate';

/** Refuses a database without convoql's tables (and, unless allowed, one with pending migrations) in one line. */
async function assertMigrated(connectionString: string, logger: Logger, allowPending: boolean): Promise<void> {
  const pending = await pendingMigrations(connectionString);
  if (pending.length === 0) return;
  const where = describeUrl(connectionString);
  const onDisk = (await readMigrations(defaultMigrationPaths().migrationsDir)).migrationDirectories.length;
  if (pending.length === onDisk) {
    throw new StartupError(
      `The database ${where} has no convoql tables (it was never migrated): run \`${MIGRATE_COMMAND}\` with the same DATABASE_URL, or start the server with --migrate.`,
    );
  }
  const what = `${pending.length} migration${pending.length === 1 ? '' : 's'} (${pending[0]}${pending.length > 1 ? ', …' : ''})`;
  if (!allowPending) {
    throw new StartupError(`The database ${where} lacks ${what}: run \`${MIGRATE_COMMAND}\` with the same DATABASE_URL first.`);
  }
  logger.warn({ pending }, `the database lacks ${what}; /readyz reports not ready until \`${MIGRATE_COMMAND}\` runs`);
}

/** host:port/database of a connection string; never the password. */
function describeUrl(connectionString: string): string {
  const url = new URL(connectionString);
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
}

/** Connects once to fail fast, in one line, on a wrong host, port, database or credentials. */
async function assertReachable(connectionString: string): Promise<void> {
  const client = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new StartupError(
      `Cannot connect to PostgreSQL at ${describeUrl(connectionString)}: ${(error as Error).message || (error as { code?: string }).code || 'unknown error'}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
