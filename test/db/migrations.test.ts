import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';
import {
  applyMigrations,
  createMigration,
  defaultMigrationPaths,
  pendingMigrations,
  readMigrations,
  schemaDrift,
} from '../../src/db/migrations';
import { LANGGRAPH_TABLES } from '../../src/db/langgraph-tables';
import { PrismaClient } from '../../src/generated/prisma/client';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const { migrationsDir } = defaultMigrationPaths();
const CHECKPOINT_TABLES = LANGGRAPH_TABLES.map((t) => t.replace(/^public\./, ''));

let migrationNames: string[];
let indexNames: string[];

beforeAll(async () => {
  const list = await readMigrations(migrationsDir);
  migrationNames = list.migrationDirectories.map((m) => m.path);
  // Every index a migration declares must exist after migrating, unless a later migration dropped it.
  const statements = (pattern: RegExp) =>
    list.migrationDirectories.flatMap((m) =>
      m.migrationFile.content.tag === 'ok' ? [...m.migrationFile.content.value.matchAll(pattern)].map((match) => match[1]!) : [],
    );
  const dropped = new Set(statements(/DROP INDEX "([^"]+)"/g));
  indexNames = statements(/CREATE (?:UNIQUE )?INDEX "([^"]+)"/g).filter((name) => !dropped.has(name));
});

/** Runs `work` on one connection (PGlite serves one session). */
async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function catalog(url: string) {
  return withClient(url, async (client) => {
    const tables = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    const enums = await client.query<{ name: string; labels: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
         JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' GROUP BY 1 ORDER BY 1`,
    );
    const indexes = await client.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`);
    const foreignKeys = await client.query<{ name: string }>(`SELECT conname AS name FROM pg_constraint WHERE contype = 'f' ORDER BY 1`);
    return {
      tables: tables.rows.map((r) => r.name),
      enums: Object.fromEntries(enums.rows.map((r) => [r.name, r.labels])),
      indexes: indexes.rows.map((r) => r.name),
      foreignKeys: foreignKeys.rows.map((r) => r.name),
    };
  });
}

/** Columns (type, nullability, default), constraints and indexes of LangGraph's four tables. */
async function checkpointTables(url: string) {
  return withClient(url, async (client) => {
    const columns = await client.query(
      `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum`,
      [CHECKPOINT_TABLES],
    );
    const constraints = await client.query(
      `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE conrelid::regclass::text = ANY($1) ORDER BY 1, 2`,
      [CHECKPOINT_TABLES],
    );
    const indexes = await client.query(
      `SELECT tablename AS table, indexname AS name, indexdef AS def FROM pg_indexes
        WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY 1, 2`,
      [CHECKPOINT_TABLES],
    );
    return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
  });
}

async function checkpointMigrationVersions(url: string): Promise<number[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ v: number }>('SELECT v FROM checkpoint_migrations ORDER BY v');
    return rows.map((r) => r.v);
  });
}

/** LangGraph's saver; on PGlite its pool is held to one connection (a single backend session). */
function langGraphSaver(db: TestDatabase): PostgresSaver {
  return db.external ? PostgresSaver.fromConnString(db.url) : new PostgresSaver(new Pool({ connectionString: db.url, max: 1 }));
}

async function langGraphSetup(db: TestDatabase): Promise<void> {
  const saver = langGraphSaver(db);
  try {
    await saver.setup();
  } finally {
    await saver.end();
  }
}

/** A shadow database for the engine: a copy of the empty PGlite dump, or a new server database. */
const emptyDatabase = () => createTestDatabase({ migrated: false });

async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'convoql-migrations-test-'));
}

describe('applyMigrations', () => {
  test('creates the whole schema on an empty database, then applies nothing', async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      expect(await pendingMigrations(db.url)).toEqual(migrationNames);
      const logged: object[] = [];
      const started = performance.now();
      const first = await applyMigrations(db.url, { logger: { info: (obj) => logged.push(obj) } });
      const elapsed = Math.round(performance.now() - started);
      console.info(`migrating an empty ${db.external ? 'PostgreSQL' : 'PGlite'}: ${elapsed} ms`);

      expect(first.applied).toEqual(migrationNames);
      expect(logged).toEqual(migrationNames.map((migration) => ({ migration })));
      const schema = await catalog(db.url);
      expect(schema.tables).toEqual(
        [
          '_prisma_migrations',
          'api_keys',
          'checkpoint_blobs',
          'checkpoint_migrations',
          'checkpoint_writes',
          'checkpoints',
          'conversation_search_steps',
          'conversation_step_index',
          'conversations',
          'messages',
          'session_search_documents',
          'sessions',
          'tenants',
          'usage_day_latencies',
          'usage_day_latency_ranks',
          'usage_day_message_rollups',
          'usage_day_sessions',
          'usage_hour_latencies',
          'usage_latency_rollups',
          'usage_message_rollups',
          'usage_session_models',
        ].sort(),
      );
      expect(schema.enums).toEqual({
        api_key_scope: ['read', 'write', 'admin'],
        conversation_status: ['IDLE', 'INTERRUPTED', 'ERROR'],
        message_role: ['USER', 'ASSISTANT', 'SYSTEM', 'TOOL'],
        session_status: ['ACTIVE', 'CLOSED', 'EXPIRED'],
      });
      expect(indexNames.length).toBeGreaterThan(10);
      expect(schema.indexes).toEqual(expect.arrayContaining(indexNames));
      expect(schema.indexes).toEqual(
        expect.arrayContaining([
          'sessions_tenant_id_external_id_key',
          'checkpoints_pkey',
          'checkpoint_blobs_pkey',
          'checkpoint_writes_pkey',
          'checkpoint_migrations_pkey',
        ]),
      );
      expect(schema.foreignKeys).toContain('messages_tenant_id_session_id_fkey');

      expect(await applyMigrations(db.url)).toEqual({ applied: [] });
      expect(await pendingMigrations(db.url)).toEqual([]);
      // Bookkeeping like `prisma migrate deploy`, and none of LangGraph's.
      const recorded = await withClient(db.url, async (client) => {
        const { rows } = await client.query(
          `SELECT migration_name, applied_steps_count, finished_at IS NOT NULL AS finished
             FROM _prisma_migrations ORDER BY migration_name`,
        );
        return rows;
      });
      expect(recorded).toEqual(
        migrationNames.map((migration_name) => ({
          migration_name,
          applied_steps_count: 1,
          finished: true,
        })),
      );
      expect(await checkpointMigrationVersions(db.url)).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  test('a test database starts migrated and empty', async () => {
    const started = performance.now();
    const db = await createTestDatabase();
    const elapsed = Math.round(performance.now() - started);
    console.info(`createTestDatabase on ${db.external ? 'PostgreSQL' : 'PGlite'}: ${elapsed} ms`);
    try {
      expect(await pendingMigrations(db.url)).toEqual([]);
      const counts = await withClient(db.url, async (client) => {
        const { rows } = await client.query(
          `SELECT (SELECT count(*) FROM tenants)::int AS tenants,
                  (SELECT count(*) FROM sessions)::int AS sessions,
                  (SELECT count(*) FROM checkpoints)::int AS checkpoints`,
        );
        return rows[0];
      });
      expect(counts).toEqual({ tenants: 0, sessions: 0, checkpoints: 0 });
    } finally {
      await db.drop();
    }
  });

  test('works where LangGraph created its tables first, and leaves them as they are', async () => {
    const migrated = await createTestDatabase();
    const db = await createTestDatabase({ migrated: false });
    try {
      const saver = PostgresSaver.fromConnString(db.url);
      await saver.setup();
      await saver.end();
      // The migration creates the tables exactly as LangGraph's saver does.
      expect(await checkpointTables(migrated.url)).toEqual(await checkpointTables(db.url));

      // An older or Python saver: blob still NOT NULL (migration 4 not run yet), task_path and an index.
      await withClient(db.url, (client) =>
        client.query(`
          ALTER TABLE checkpoint_blobs ALTER COLUMN blob SET NOT NULL;
          DELETE FROM checkpoint_migrations WHERE v = 4;
          ALTER TABLE checkpoint_writes ADD COLUMN task_path TEXT NOT NULL DEFAULT '';
          CREATE INDEX checkpoints_thread_id_idx ON checkpoints (thread_id);`),
      );
      const before = await checkpointTables(db.url);

      expect((await applyMigrations(db.url)).applied).toEqual(migrationNames);
      expect(await checkpointTables(db.url)).toEqual(before);
      expect(await checkpointMigrationVersions(db.url)).toEqual([0, 1, 2, 3]);

      // LangGraph's own setup() carries on from its bookkeeping.
      await langGraphSetup(db);
      expect(await checkpointMigrationVersions(db.url)).toEqual([0, 1, 2, 3, 4]);
      const blob = (await checkpointTables(db.url)).columns.find((c) => c.table === 'checkpoint_blobs' && c.column === 'blob');
      expect(blob).toMatchObject({ not_null: false });
    } finally {
      await Promise.all([migrated.drop(), db.drop()]);
    }
  });

  test("LangGraph's setup() then works on a migrated database, and its rows are readable", async () => {
    const db = await createTestDatabase();
    try {
      const saver = langGraphSaver(db);
      try {
        await saver.setup();
        expect(await checkpointMigrationVersions(db.url)).toEqual([0, 1, 2, 3, 4]);
        const graph = new StateGraph(MessagesAnnotation)
          .addNode('agent', () => ({ messages: [new AIMessage('pong')] }))
          .addEdge(START, 'agent')
          .addEdge('agent', END)
          .compile({ checkpointer: saver });
        const config = { configurable: { thread_id: 'migrations-test-thread' } };
        await graph.invoke({ messages: [{ role: 'user', content: 'ping' }] }, config);
        const state = await graph.getState(config);
        expect((state.values.messages as BaseMessage[]).map((m) => m.content)).toEqual(['ping', 'pong']);
      } finally {
        await saver.end();
      }
      expect(await applyMigrations(db.url)).toEqual({ applied: [] });

      const prisma = new PrismaClient({
        adapter: new PrismaPg({ connectionString: db.url, max: 1 }),
      });
      try {
        const checkpoints = await prisma.langGraphCheckpoint.findMany({
          where: { threadId: 'migrations-test-thread' },
          orderBy: { checkpointId: 'asc' },
        });
        expect(checkpoints.length).toBeGreaterThanOrEqual(3);
        expect(checkpoints.map((c) => (c.metadata as { source?: string }).source)).toContain('input');
        const blob = await prisma.langGraphCheckpointBlob.findFirst({
          where: { threadId: 'migrations-test-thread', channel: 'messages' },
          orderBy: { version: 'desc' },
        });
        expect(blob?.type).toBe('json');
        expect(Buffer.from(blob!.blob!).toString('utf8')).toContain('pong');
        expect(await prisma.langGraphCheckpointMigration.count()).toBe(5);
      } finally {
        await prisma.$disconnect();
      }
    } finally {
      await db.drop();
    }
  });

  test('session_search_document fills the documents of the sessions that already have messages', async () => {
    const dir = await makeTempDir();
    const db = await createTestDatabase({ migrated: false });
    const migration = migrationNames.find((name) => name.endsWith('_session_search_document'))!;
    try {
      await cp(migrationsDir, dir, { recursive: true });
      await rm(path.join(dir, migration), { recursive: true });
      await applyMigrations(db.url, { migrationsDir: dir });
      await withClient(db.url, (client) =>
        client.query(`
          INSERT INTO tenants (id, name) VALUES ('acme', 'Acme');
          INSERT INTO sessions (id, tenant_id, external_id, channel) VALUES
            ('00000000-0000-4000-8000-000000000001', 'acme', 'talked', 'web'), ('00000000-0000-4000-8000-000000000002', 'acme', 'silent', 'web');
          INSERT INTO messages (tenant_id, session_id, role, content) VALUES
            ('acme', '00000000-0000-4000-8000-000000000001', 'USER', 'Hello, hello there'),
            ('acme', '00000000-0000-4000-8000-000000000001', 'ASSISTANT', 'Hello again');`),
      );
      await cp(path.join(migrationsDir, migration), path.join(dir, migration), { recursive: true });
      expect((await applyMigrations(db.url, { migrationsDir: dir })).applied).toEqual([migration]);
      const documents = await withClient(db.url, async (client) => {
        const { rows } = await client.query(
          `SELECT s.external_id, d.document::text AS document, d.overflow
           FROM sessions s LEFT JOIN session_search_documents d ON d.tenant_id = s.tenant_id AND d.session_id = s.id ORDER BY 1`,
        );
        return rows;
      });
      expect(documents).toEqual([
        { external_id: 'silent', document: null, overflow: null },
        { external_id: 'talked', document: "'again' 'hello' 'there'", overflow: false },
      ]);
    } finally {
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a failing migration throws a clear error, is rolled back and stays pending', async () => {
    const dir = await makeTempDir();
    const db = await createTestDatabase();
    try {
      await cp(migrationsDir, dir, { recursive: true });
      const broken = '29991231235959_broken';
      await mkdir(path.join(dir, broken));
      await writeFile(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE broken_probe (id int);\nSELECT no_such_function();\n');
      expect(await pendingMigrations(db.url, { migrationsDir: dir })).toEqual([broken]);

      await expect(applyMigrations(db.url, { migrationsDir: dir })).rejects.toThrow(
        /failed: migration 29991231235959_broken: .*function no_such_function\(\) does not exist/,
      );
      const probe = await withClient(db.url, async (client) => {
        const { rows } = await client.query(`SELECT to_regclass('broken_probe') AS t`);
        return rows[0].t as string | null;
      });
      expect(probe).toBeNull();
      expect(await pendingMigrations(db.url, { migrationsDir: dir })).toEqual([broken]);
      await expect(applyMigrations(db.url, { migrationsDir: dir })).rejects.toThrow(/found failed migrations.*29991231235959_broken/);
    } finally {
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('schema drift', () => {
  test('the committed migrations match schema.prisma', async () => {
    expect(await schemaDrift({ shadowDatabase: emptyDatabase })).toBeNull();
  });

  test("createMigration from scratch creates every committed table but LangGraph's, and then finds nothing", async () => {
    const dir = await makeTempDir();
    try {
      const now = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
      const created = await createMigration('Init', {
        migrationsDir: dir,
        now,
        shadowDatabase: emptyDatabase,
      });
      expect(created).toBe('20200102030405_init');

      // From an empty database, one migration creates every table the committed Prisma migrations create.
      const tablesCreatedBy = (sql: string) => [...sql.matchAll(/CREATE TABLE "(\w+)"/g)].map((match) => match[1]).sort();
      const prismaMigrations = migrationNames.filter((name) => !name.endsWith('_langgraph_checkpoint_tables'));
      const committed = await Promise.all(
        prismaMigrations.map((name) => readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8')),
      );
      const generated = await readFile(path.join(dir, created!, 'migration.sql'), 'utf8');
      expect(tablesCreatedBy(generated)).toEqual(tablesCreatedBy(committed.join('\n')));
      expect(generated).not.toMatch(/"checkpoint(s|_blobs|_writes|_migrations)"/);
      expect(await readFile(path.join(dir, 'migration_lock.toml'), 'utf8')).toBe(
        await readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8'),
      );
      // schema.prisma declares the checkpoint models, yet nothing is left to migrate.
      expect(await createMigration('again', { migrationsDir: dir, shadowDatabase: emptyDatabase })).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('createMigration rejects a name without letters or digits', async () => {
    await expect(createMigration(' -- ')).rejects.toThrow(
      'Expected a migration name with letters or digits (e.g. "add_tags"), received " -- "',
    );
  });
});
