import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { applyMigrations, defaultMigrationPaths, readMigrations } from '../../src/db/migrations';
import { TEST_DATABASE_ENV, TEST_DATABASE_PREFIX, databaseUrl, quoteIdent, testServerUrl, withAdmin } from './database';

// Dumps are reused across runs while the migrations, PGlite and the schema engine stay the same;
// others are pruned after an hour without use (another checkout may still be using them).
const CACHE_DIR = path.join(os.tmpdir(), 'convoql-test-pglite');
const STALE_MS = 60 * 60 * 1000;

/**
 * Prepares the databases test files copy from, once per Jest run: a migrated template database on
 * TEST_DATABASE_URL, or PGlite data-directory dumps (empty and migrated) otherwise.
 */
export default async function globalSetup(): Promise<void> {
  const runId = randomBytes(4).toString('hex');
  process.env[TEST_DATABASE_ENV.runId] = runId;
  const server = testServerUrl();
  if (server) {
    process.env[TEST_DATABASE_ENV.template] = await createTemplate(server, runId);
  } else {
    const dumps = await pgliteDumps();
    process.env[TEST_DATABASE_ENV.pgliteEmptyDump] = dumps.empty;
    process.env[TEST_DATABASE_ENV.pgliteMigratedDump] = dumps.migrated;
  }
}

async function createTemplate(server: string, runId: string): Promise<string> {
  const name = `${TEST_DATABASE_PREFIX}${runId}_template`;
  await withAdmin(server, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  try {
    await applyMigrations(databaseUrl(server, name));
    // No session may be connected to a template while it is copied; this makes sure none is.
    await withAdmin(server, (admin) => admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS false`));
  } catch (error) {
    await withAdmin(server, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    throw error;
  }
  return name;
}

async function pgliteDumps(): Promise<{ empty: string; migrated: string }> {
  const key = await cacheKey();
  const empty = path.join(CACHE_DIR, `${key}-empty.tar`);
  const migrated = path.join(CACHE_DIR, `${key}-migrated.tar`);
  if (existsSync(empty) && existsSync(migrated)) {
    // Marks them as in use, so that another checkout's pruning leaves them alone.
    const now = new Date();
    await Promise.all([utimes(empty, now, now), utimes(migrated, now, now)]);
    return { empty, migrated };
  }

  await mkdir(CACHE_DIR, { recursive: true });
  await pruneCache(key);
  // globalSetup runs outside Jest's sandbox, so PGlite runs in this process and can be dumped.
  const pg = await startEmbeddedPostgres({ childProcess: false });
  try {
    const db = pg.db!;
    await writeAtomically(empty, await db.dumpDataDir('none'));
    await applyMigrations(pg.connectionString);
    await writeAtomically(migrated, await db.dumpDataDir('none'));
  } finally {
    await pg.stop();
  }
  return { empty, migrated };
}

async function cacheKey(): Promise<string> {
  const hash = createHash('sha256');
  // The package's exports hide package.json; it sits one level above the resolved dist/ entry.
  const pglitePackage = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  hash.update(await readFile(pglitePackage, 'utf8'));
  hash.update(await readFile(path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm')), 'package.json'), 'utf8'));
  const list = await readMigrations(defaultMigrationPaths().migrationsDir);
  hash.update(list.lockfile.content ?? '');
  for (const migration of list.migrationDirectories) {
    const { content } = migration.migrationFile;
    hash.update(`\0${migration.path}\0${content.tag === 'ok' ? content.value : ''}`);
  }
  return hash.digest('hex').slice(0, 16);
}

async function writeAtomically(file: string, blob: Blob): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, Buffer.from(await blob.arrayBuffer()));
  await rename(temporary, file);
}

async function pruneCache(currentKey: string): Promise<void> {
  for (const entry of await readdir(CACHE_DIR)) {
    if (entry.startsWith(currentKey)) continue;
    const file = path.join(CACHE_DIR, entry);
    const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > STALE_MS) await unlink(file).catch(() => undefined);
  }
}
