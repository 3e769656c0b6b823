import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { applyMigrations } from '../../src/db/migrations';
import { LIVE_EVENTS_CHANNEL, listenOnPostgres, type NotificationSource } from '../../src/db/notifications';

/** A database of its own for one test file. */
export interface TestDatabase {
  /** Connection string; on PGlite, clients must keep to one connection. */
  readonly url: string;
  /** True on a real PostgreSQL server (TEST_DATABASE_URL), false on an embedded PGlite. */
  readonly external: boolean;
  /** The live-events notifications of this database: a LISTEN connection on a server, the PGlite's own otherwise. */
  liveEvents(): NotificationSource;
  /** Drops the database (or stops the PGlite); calling it again does nothing. */
  drop(): Promise<void>;
}

/** Options of {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /** Apply convoql's migrations (default true); false gives an empty database. */
  migrated?: boolean;
}

/** Variables through which global-setup.ts hands its prepared databases to the Jest workers. */
export const TEST_DATABASE_ENV = {
  /** Unique per Jest run; prefixes every database created on the server. */
  runId: 'CONVOQL_TEST_RUN_ID',
  /** Migrated, connection-less template database on the TEST_DATABASE_URL server. */
  template: 'CONVOQL_TEST_TEMPLATE_DB',
  /** PGlite data directory dumps (tar) of an empty and of a migrated cluster. */
  pgliteEmptyDump: 'CONVOQL_TEST_PGLITE_EMPTY_DUMP',
  pgliteMigratedDump: 'CONVOQL_TEST_PGLITE_MIGRATED_DUMP',
} as const;

/** Prefix of every database name this helper creates on a real server. */
export const TEST_DATABASE_PREFIX = 'convoql_test_';

/** The real PostgreSQL server tests run against, or undefined for embedded PGlite. */
export function testServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

/** `serverUrl` with its database name replaced by `database`. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** This run's id: the one global-setup chose, or a fresh one outside a Jest run. */
export function testRunId(): string {
  const key = TEST_DATABASE_ENV.runId;
  return (process.env[key] ??= randomBytes(4).toString('hex'));
}

let counter = 0;

/**
 * Creates a fresh database for one test file, migrated and empty unless asked otherwise:
 * `CREATE DATABASE … TEMPLATE` on TEST_DATABASE_URL, else an in-memory PGlite loaded from a dump.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  const server = testServerUrl();
  return server ? createOnServer(server, migrated) : createEmbedded(migrated);
}

async function createOnServer(server: string, migrated: boolean): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${testRunId()}_${process.pid}_${++counter}`;
  const template = migrated ? process.env[TEST_DATABASE_ENV.template] : undefined;
  await withAdmin(server, async (admin) => {
    const sql = `CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`;
    // Two workers copying the template at the same moment can see each other as its users.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(sql);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  });
  const url = databaseUrl(server, name);
  let dropping: Promise<void> | undefined;
  const drop = () => (dropping ??= dropServerDatabase(server, name));
  if (migrated && !template) {
    // Outside a Jest run with global-setup (no template), migrate this database itself.
    await applyMigrations(url).catch(async (error: unknown) => {
      await drop();
      throw error;
    });
  }
  return { url, external: true, liveEvents: () => listenOnPostgres(url, LIVE_EVENTS_CHANNEL), drop };
}

async function createEmbedded(migrated: boolean): Promise<TestDatabase> {
  const dump = process.env[migrated ? TEST_DATABASE_ENV.pgliteMigratedDump : TEST_DATABASE_ENV.pgliteEmptyDump];
  // Jest's sandbox cannot load PGlite in-process, so each test database is a PGlite in a child process.
  const pg = await startEmbeddedPostgres({
    childProcess: true,
    ...(dump ? { loadDataDir: dump } : {}),
  });
  if (migrated && !dump) {
    await applyMigrations(pg.connectionString).catch(async (error: unknown) => {
      await pg.stop();
      throw error;
    });
  }
  return { url: pg.connectionString, external: false, liveEvents: () => pg.liveEvents, drop: () => pg.stop() };
}

/** Drops a database on the server, ending its connections first. */
export async function dropServerDatabase(server: string, name: string): Promise<void> {
  await withAdmin(server, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

/** Runs `work` with a short-lived connection to the database named in `server`. */
export async function withAdmin<T>(server: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: server, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    const url = new URL(server);
    throw new Error(
      `Expected a PostgreSQL server at TEST_DATABASE_URL (${url.host}${url.pathname}), but could not connect: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
