import { Client } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDatabase, type Database } from './client';

/** What /readyz and the logs say about one replica; never its URL (it may hold a password). */
export interface ReplicaStatus {
  /** host:port/database of the replica. */
  readonly name: string;
  /** `up`: reads go to it; `down`: it failed its last check (or a read on it lost its connection). */
  readonly state: 'up' | 'down';
  /** When it entered this state (ISO 8601). */
  readonly since: string;
  /** Why it is down: the failed check's or read's message. */
  readonly error?: string;
}

/** One replica: its pool and what its checks found. */
interface Replica {
  readonly name: string;
  readonly url: string;
  readonly db: Database;
  state: 'up' | 'down';
  since: Date;
  error?: string;
  /** Whether a check (or a failed read) has set its state yet. */
  checked: boolean;
  /** The check connection, kept open between checks; dropped on failure. */
  checker?: Client;
  checking?: Promise<void>;
}

/**
 * The read replicas of DATABASE_READ_URL, each with its own pool, health-checked every `checkIntervalMs` with `SELECT 1`
 * on a connection of its own (connect and query each bounded by `checkTimeoutMs`, so a replica that hangs counts as
 * down as surely as one that refuses). {@link reader} hands out the replicas that answered their last check in turn, and
 * the primary when none did. A read that lost its connection on a replica {@link reportFailure reports} it, which takes
 * it out at once; its next successful check brings it back. Each change of state is logged once.
 */
export class ReadReplicas {
  private readonly replicas: Replica[];
  private next = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    /** Where reads go while no replica is up. */
    readonly primary: Database,
    urls: readonly string[],
    private readonly options: {
      poolMax: number;
      preparedStatements: boolean;
      checkIntervalMs: number;
      checkTimeoutMs: number;
      logger: Logger;
    },
  ) {
    this.replicas = urls.map((url) => ({
      name: describeUrl(url),
      url,
      // A replica's broken connections are its state change, logged once by the check, not once per connection.
      db: createDatabase(url, { poolMax: options.poolMax, preparedStatements: options.preparedStatements, onPoolError: () => undefined }),
      // Down until its first check answers, so that no read goes to a replica never seen.
      state: 'down',
      since: new Date(),
      error: 'not checked yet',
      checked: false,
    }));
  }

  /** Checks every replica once (so reads start on those that answer), then keeps checking them; resolves after the first round. */
  async start(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => this.check(replica)));
    if (this.closed) return;
    this.timer = setInterval(() => {
      for (const replica of this.replicas) void this.check(replica);
    }, this.options.checkIntervalMs);
    this.timer.unref();
  }

  /** The database the next read goes to: the up replicas in turn, or the primary when none is up. */
  reader(): Database {
    const count = this.replicas.length;
    for (let tried = 0; tried < count; tried++) {
      const replica = this.replicas[this.next++ % count]!;
      if (replica.state === 'up') return replica.db;
    }
    return this.primary;
  }

  /**
   * A read on `db` failed because the replica could not be reached: it is taken out now (rather than at its next check,
   * up to an interval later) and comes back when a check answers again.
   */
  reportFailure(db: Database, error: unknown): void {
    const replica = this.replicas.find((candidate) => candidate.db === db);
    if (replica) this.setState(replica, 'down', messageOf(error));
  }

  /** Each replica's state, in DATABASE_READ_URL order. */
  status(): ReplicaStatus[] {
    return this.replicas.map((replica) => ({
      name: replica.name,
      state: replica.state,
      since: replica.since.toISOString(),
      ...(replica.state === 'down' && replica.error ? { error: replica.error } : {}),
    }));
  }

  /** Stops the checks and closes every replica's pool; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all(
      this.replicas.map(async (replica) => {
        await replica.checking;
        await replica.checker?.end().catch(() => undefined);
        replica.checker = undefined;
        await replica.db.close();
      }),
    );
  }

  /** One check of `replica`, unless one is still running. */
  private check(replica: Replica): Promise<void> {
    return (replica.checking ??= this.runCheck(replica).finally(() => (replica.checking = undefined)));
  }

  private async runCheck(replica: Replica): Promise<void> {
    const timeout = this.options.checkTimeoutMs;
    const startedAt = Date.now();
    try {
      if (!replica.checker) {
        const client = new Client({
          connectionString: checkUrlOf(replica.url),
          connectionTimeoutMillis: timeout,
          query_timeout: timeout,
          statement_timeout: timeout,
        });
        // An error of an idle check connection is seen by the next check's query.
        client.on('error', () => undefined);
        replica.checker = client;
        await client.connect();
      }
      await replica.checker.query('SELECT 1');
      // A check that began before a failed read took the replica out says nothing about it since.
      if (!this.closed && (replica.state === 'up' || startedAt >= replica.since.getTime())) this.setState(replica, 'up');
    } catch (error) {
      const client = replica.checker;
      replica.checker = undefined;
      void client?.end().catch(() => undefined);
      if (!this.closed) this.setState(replica, 'down', messageOf(error));
    }
  }

  private setState(replica: Replica, state: 'up' | 'down', error?: string): void {
    const first = !replica.checked;
    replica.checked = true;
    if (replica.state === state && !first) return;
    const downForMs = state === 'up' && !first ? Date.now() - replica.since.getTime() : undefined;
    replica.state = state;
    replica.since = new Date();
    replica.error = state === 'down' ? error : undefined;
    const { logger } = this.options;
    if (state === 'down') {
      const fallback = this.replicas.some((other) => other.state === 'up') ? 'the other replicas' : 'the primary';
      logger.warn({ replica: replica.name, state, error }, `read replica ${replica.name} is down; its reads go to ${fallback}`);
    } else {
      logger.info(
        { replica: replica.name, state, ...(downForMs === undefined ? {} : { downForMs }) },
        `read replica ${replica.name} is up`,
      );
    }
  }
}

/** Opens the replicas of DATABASE_READ_URL and waits for their first check, or returns null when none is configured. */
export async function openReadReplicas(primary: Database, config: Config, logger: Logger): Promise<ReadReplicas | null> {
  const { readUrls, readPoolMax, preparedStatements, readCheckIntervalMs, readCheckTimeoutMs } = config.database;
  if (readUrls.length === 0) return null;
  const replicas = new ReadReplicas(primary, readUrls, {
    poolMax: readPoolMax,
    preparedStatements,
    checkIntervalMs: readCheckIntervalMs,
    checkTimeoutMs: readCheckTimeoutMs,
    logger,
  });
  await replicas.start();
  return replicas;
}

/** The replica's URL with the check's own application_name (a URL's parameters override pg's options). */
function checkUrlOf(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', CHECK_APPLICATION_NAME);
  return parsed.toString();
}

/** The application_name of the health check connections, as pg_stat_activity shows them. */
export const CHECK_APPLICATION_NAME = 'convoql-replica-check';

/** host:port/database of a connection string; never the password. */
function describeUrl(connectionString: string): string {
  const url = new URL(connectionString);
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
}

function messageOf(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return (typeof message === 'string' && message) || (typeof code === 'string' && code) || String(error);
}
