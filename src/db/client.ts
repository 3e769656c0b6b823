import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type PoolClient } from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client';
import { typeParsers } from './timestamps';

export { Prisma };
export type { PrismaClient };

/** The Prisma client convoql uses, logging each SQL statement as an event for the recorder. */
export type DatabaseClient = PrismaClient<'query'>;

/** Listens to the SQL statements the client sends, for tests and the benchmark. */
export class StatementRecorder {
  private readonly listeners = new Set<(sql: string) => void>();

  /** Called by the client for each statement. */
  notify(sql: string): void {
    for (const listener of this.listeners) listener(sql);
  }

  /** Runs `work` and returns its result with the statements issued meanwhile (by anyone). */
  async record<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    const statements: string[] = [];
    const listener = (sql: string) => statements.push(sql);
    this.listeners.add(listener);
    try {
      return { result: await work(), statements };
    } finally {
      this.listeners.delete(listener);
    }
  }
}

/** A connected database: the Prisma client, its connection pool and its statement recorder. */
export interface Database {
  readonly prisma: DatabaseClient;
  /** The pg pool under Prisma, for pool metrics. */
  readonly pool: Pool;
  readonly statements: StatementRecorder;
  /**
   * Sends a hand-written statement straight to the pg pool under Prisma and returns its rows as node-postgres decodes
   * them, as a named prepared statement (see {@link PreparedStatementNames}). For the hot dashboard reads only, whose
   * SQL is ours anyway: Prisma's raw-query layer (request pipeline, plan interpreter, per-column decoding, query event)
   * cost 0.13–0.2 ms of CPU per statement, a seventh of a session detail request. Recorded like Prisma's own statements.
   */
  queryRows<T>(statement: Prisma.Sql): Promise<T[]>;
  /**
   * Runs `work` in one transaction on one pooled connection: its `queryRows` statements commit together, or roll back
   * together when `work` throws. Only `queryRows` joins the transaction: the view's `prisma` throws when used, so a
   * statement cannot silently run outside it. For bulk writers (the importer) that group many statements per commit.
   */
  transaction<T>(work: (db: Database) => Promise<T>): Promise<T>;
  /** Closes the client and the pool; idempotent. */
  close(): Promise<void>;
}

/**
 * Opens a Prisma client over the pg driver adapter. Use poolMax 1 for PGlite (one backend session), and
 * `preparedStatements` only on a PostgreSQL server (a PGlite session outlives the connection that prepared them).
 * Connections that break while idle (the database restarted) are dropped and replaced on next use,
 * so the server recovers by itself when the database comes back.
 */
export function createDatabase(
  connectionString: string,
  options: { poolMax: number; preparedStatements?: boolean; onPoolError?: (error: Error) => void },
): Database {
  const pool = new Pool({
    connectionString,
    max: options.poolMax,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    types: typeParsers,
    // No JIT compilation: a statement whose estimate is high without its work being so was compiled for 270 ms to run
    // for 20 (docs/decisions/0019). A SET before the connection's first use rather than the startup option
    // `-c jit=off`, which connection poolers such as PgBouncer refuse.
    onConnect: async (client) => {
      await client.query('SET jit = off');
    },
  });
  // Without a listener, an idle connection's error (e.g. the server shut down) would crash the process.
  pool.on('error', (error) => options.onPoolError?.(error));
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    log: [{ emit: 'event', level: 'query' }],
    // Any other format captures a stack trace on every call, to point at the calling line should it fail: a
    // quarter of the time Prisma spends on a query. Clients never see Prisma's messages, and logs keep the error.
    errorFormat: 'minimal',
  });
  const statements = new StatementRecorder();
  prisma.$on('query', (event) => statements.notify(event.query));
  let closing: Promise<void> | undefined;
  const names = options.preparedStatements ? new PreparedStatementNames() : null;
  const queryOn =
    (queryable: Pool | PoolClient, prepared: boolean) =>
    async <T>(statement: Prisma.Sql): Promise<T[]> => {
      statements.notify(statement.text);
      const name = prepared ? names?.of(statement.text) : undefined;
      if (name) {
        try {
          return (await queryable.query({ name, text: statement.text, values: statement.values })).rows as T[];
        } catch (error) {
          // A session that outlived the connection which prepared the name (PGlite served over a socket keeps one):
          // this statement goes unnamed instead.
          if ((error as { code?: string }).code !== DUPLICATE_PREPARED_STATEMENT) throw error;
        }
      }
      return (await queryable.query(statement.text, statement.values)).rows as T[];
    };
  const database: Database = {
    prisma,
    pool,
    statements,
    queryRows: queryOn(pool, true),
    transaction: async <T>(work: (db: Database) => Promise<T>): Promise<T> => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const view = {
          ...database,
          // Unnamed: a refused name (see queryOn) would abort the transaction.
          queryRows: queryOn(client, false),
          transaction: () => Promise.reject(new Error('Database.transaction does not nest.')),
        } as Database;
        // Not enumerable, so that spreading the view (a wrapper in a test) does not throw.
        Object.defineProperty(view, 'prisma', {
          enumerable: false,
          get(): never {
            throw new Error('Prisma statements cannot join a Database.transaction; use queryRows inside it.');
          },
        });
        const result = await work(view);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroyed, not returned to the pool.
        client.release(broken);
      }
    },
    close: () => (closing ??= prisma.$disconnect().then(() => pool.end())),
  };
  return database;
}

const DUPLICATE_PREPARED_STATEMENT = '42P05';

/**
 * The mark of a statement planned for its values on every execution (see plannedPerValues in sql.ts): sent unnamed,
 * so PostgreSQL plans it with the values bound. A named statement gets a generic plan after five executions when that
 * plan's estimate is not above the custom plans' average, and a generic plan cannot see a search term's selectivity:
 * it took a word in 9 % of the messages for one in 0.5 % and sorted all 91,774 matches (445 ms) instead of walking
 * the newest messages (105 ms).
 */
export const PLANNED_PER_VALUES = '/* planned per values */';

/**
 * Names for the texts of hand-written statements, so that each is a named prepared statement: PostgreSQL parses and
 * plans it once per connection instead of on every request (half the database CPU of a session detail). A text is
 * ours, never a client's, and a list's filters make a few hundred texts at most; past {@link MAX_NAMES} new texts go
 * unnamed, so that a bug cannot grow every connection's statement cache without end. A text marked
 * {@link PLANNED_PER_VALUES} is never named.
 */
class PreparedStatementNames {
  private static readonly MAX_NAMES = 2_000;
  private readonly names = new Map<string, string>();

  /** The name of this text's statement, or undefined when it goes unnamed. */
  of(text: string): string | undefined {
    if (text.includes(PLANNED_PER_VALUES)) return undefined;
    let name = this.names.get(text);
    if (name === undefined && this.names.size < PreparedStatementNames.MAX_NAMES) this.names.set(text, (name = `q${this.names.size}`));
    return name;
  }
}
