import type Redis from 'ioredis';
import type { Config } from '../config';
import type { Logger } from '../logger';

/** ioredis, loaded when Redis is configured: a server without REDIS_URL need not hold it in memory. */
type IoRedis = typeof import('ioredis');

/** Longest a start waits for Redis before it serves with per-process state (and keeps trying in the background). */
const FIRST_CONNECT_WAIT_MS = 2_000;
/** Reconnection delays grow by this much per attempt, up to RECONNECT_MAX_MS. */
const RECONNECT_STEP_MS = 100;
const RECONNECT_MAX_MS = 1_000;

/** What shared state and the readiness check see of Redis. */
export interface SharedStoreStatus {
  /** True while both connections (commands, and the subscription to revocations) are up. */
  readonly available: boolean;
  /** Why Redis is not used right now, for /readyz; null while it is. */
  readonly degradedReason: string | null;
}

/**
 * convoql's connection to Redis (REDIS_URL): one connection for commands and one subscribed to channels. Redis is an
 * optimisation of consistency between processes, never a dependency of a request: no command is queued while the
 * connection is down (ioredis's offline queue is off), a command waits at most REDIS_COMMAND_TIMEOUT_MS, and while
 * Redis is down `run` answers undefined at once, so each caller falls back to its per-process state. Going down and
 * coming back are each logged once, not per request. Every key and channel is prefixed with REDIS_KEY_PREFIX.
 */
export class SharedStore implements SharedStoreStatus {
  readonly keyPrefix: string;
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly where: string;
  private readonly up = { client: false, subscriber: false };
  /** Whether the last state logged was "down", so each transition is logged once. */
  private loggedDown = false;
  private lastError = 'not connected yet';
  private readonly handlers = new Map<string, (message: string) => void>();
  private readonly resubscribed: (() => void)[] = [];
  private closed = false;
  /** No change is logged before `open` has waited for the first connection. */
  private opening = true;
  private readonly loggedReplies = new Set<string>();
  /** A PING is checking whether a command that timed out meant that Redis is down. */
  private probing = false;
  /** Called when both connections are first up (what `open` waits for). */
  private firstAvailable: (() => void) | undefined;

  private constructor(
    private readonly ioredis: IoRedis,
    options: NonNullable<Config['redis']>,
    private readonly logger: Logger,
  ) {
    this.keyPrefix = options.keyPrefix;
    const url = new URL(options.url);
    // Host and port only: the URL may carry a password.
    this.where = `${url.protocol}//${url.host}`;
    const common = {
      lazyConnect: true,
      // A command sent while the connection is down fails at once instead of waiting in a queue for a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1_000, options.commandTimeoutMs),
      retryStrategy: (attempt: number) => Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
      // Re-subscribed by `subscribeAll` on every ready connection, so a subscription made while Redis was down counts too.
      autoResubscribe: false,
    };
    this.client = new ioredis.Redis(options.url, { ...common, connectionName: 'convoql' });
    this.subscriber = new ioredis.Redis(options.url, { ...common, connectionName: 'convoql-subscriber' });
    // Ready only once a command is answered: a Redis that accepts connections but hangs would otherwise count as up.
    this.watch(this.client, 'client', () =>
      this.client.ping().then(
        () => {
          this.up.client = true;
          this.changed();
        },
        (error: unknown) => this.failed(error),
      ),
    );
    this.watch(this.subscriber, 'subscriber', () => void this.subscribeAll());
    this.subscriber.on('message', (channel: string, message: string) => this.handlers.get(channel)?.(message));
  }

  /**
   * Connects to Redis, waiting at most 2 s; a Redis that does not answer by then is logged (once) and tried again in the
   * background, and the server meanwhile uses per-process state.
   */
  static async open(options: NonNullable<Config['redis']>, logger: Logger): Promise<SharedStore> {
    const store = new SharedStore(await import('ioredis'), options, logger);
    const connected = new Promise<void>((resolve) => (store.firstAvailable = resolve));
    // A refused connection need not be waited for: the reconnections go on in the background.
    const refused = new Promise((resolve) => store.client.once('error', resolve));
    store.client.connect().catch(() => undefined);
    store.subscriber.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([connected, refused, new Promise((resolve) => (timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS)))]);
    clearTimeout(timer);
    store.opening = false;
    store.changed(true);
    return store;
  }

  get available(): boolean {
    return this.up.client && this.up.subscriber && !this.closed;
  }

  get degradedReason(): string | null {
    if (this.available) return null;
    return (
      `Redis at ${this.where} does not answer (${this.lastError}); cost budgets, usage results, persisted queries and ` +
      'key revocations are per process until it does'
    );
  }

  /** The full name of one of convoql's keys or channels. */
  key(name: string): string {
    return `${this.keyPrefix}${name}`;
  }

  /**
   * Runs commands on Redis; undefined when Redis is down or they fail (Redis then counts as down until it answers
   * again), so the caller uses its per-process state instead. Never throws and never waits for a reconnection.
   */
  async run<T>(work: (redis: Redis) => Promise<T>): Promise<T | undefined> {
    if (!this.available) return undefined;
    try {
      return await work(this.client);
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /**
   * A Lua script run atomically by Redis (sent once, then called by its SHA-1), as a function that answers its reply,
   * or undefined when Redis is down or the call fails (see `run`).
   */
  defineScript(name: string, lua: string, numberOfKeys: number): (keys: string[], args: (string | number)[]) => Promise<unknown> {
    this.client.defineCommand(name, { numberOfKeys, lua });
    return (keys, args) =>
      this.run((redis) =>
        (redis as unknown as Record<string, (...values: (string | number)[]) => Promise<unknown>>)[name]!(...keys, ...args),
      );
  }

  /** Calls `handler` with each message published on the channel (by any process), from now on and after reconnections. */
  subscribe(channel: string, handler: (message: string) => void): void {
    this.handlers.set(this.key(channel), handler);
    if (this.subscriber.status === 'ready')
      this.subscriber.subscribe(this.key(channel)).catch((error: unknown) => this.failed(error, 'subscriber'));
  }

  /**
   * Calls `listener` each time the subscription is made again after Redis was down: messages published meanwhile were
   * missed, so whatever they would have invalidated must be dropped.
   */
  onResubscribed(listener: () => void): void {
    this.resubscribed.push(listener);
  }

  /** Publishes a message to every process subscribed to the channel; the number that received it, or undefined when Redis is down. */
  publish(channel: string, message: string): Promise<number | undefined> {
    return this.run((redis) => redis.publish(this.key(channel), message));
  }

  /** Closes both connections; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([
      this.client.quit().catch(() => this.client.disconnect()),
      this.subscriber.quit().catch(() => this.subscriber.disconnect()),
    ]);
  }

  private watch(connection: Redis, name: 'client' | 'subscriber', onReady: () => void): void {
    connection.on('ready', onReady);
    connection.on('close', () => {
      this.up[name] = false;
      this.changed();
    });
    // Every failed reconnection emits an error; only the latest is kept, for the reason /readyz gives.
    connection.on('error', (error: Error) => {
      this.lastError = describe(error);
    });
  }

  private async subscribeAll(): Promise<void> {
    const channels = [...this.handlers.keys()];
    try {
      if (channels.length > 0) await this.subscriber.subscribe(...channels);
    } catch (error) {
      this.failed(error, 'subscriber');
      return;
    }
    const wasUp = this.up.subscriber;
    this.up.subscriber = true;
    if (!wasUp) for (const listener of this.resubscribed) listener();
    this.changed();
  }

  private failed(error: unknown, connection: 'client' | 'subscriber' = 'client'): void {
    if (this.closed) return;
    if (error instanceof this.ioredis.ReplyError) {
      // Redis answered, with an error (out of memory, a script's error): this operation falls back, Redis stays in use.
      const message = describe(error);
      if (!this.loggedReplies.has(message) && this.loggedReplies.size < 20) {
        this.loggedReplies.add(message);
        this.logger.warn({ redis: this.where, reason: message }, 'Redis refused a command; that operation used per-process state');
      }
      return;
    }
    if (connection === 'subscriber') return this.down(error, 'subscriber');
    if (describe(error) === 'Command timed out' && this.up.client) {
      // A timer can fire late when the event loop was busy, before the reply it waited for is read: ask once more
      // before counting Redis as down, so a CPU-bound moment of this process does not switch state back and forth.
      if (this.probing) return;
      this.probing = true;
      this.client.ping().then(
        () => (this.probing = false),
        () => {
          this.probing = false;
          this.down(error);
        },
      );
      return;
    }
    this.down(error);
  }

  private down(error: unknown, connection: 'client' | 'subscriber' = 'client'): void {
    this.lastError = describe(error);
    this.up[connection] = false;
    this.changed();
    // A command that timed out leaves a connection that may never answer again: replace it.
    const redis = connection === 'client' ? this.client : this.subscriber;
    if (redis.status === 'ready') redis.disconnect(true);
  }

  /** Logs a change between up and down, once per change. */
  private changed(first = false): void {
    if (this.available) this.firstAvailable?.();
    if (this.closed || this.opening) return;
    if (!this.available && !this.loggedDown) {
      this.loggedDown = true;
      this.logger.warn({ redis: this.where, reason: this.lastError }, `Redis is unreachable: ${this.degradedReason}`);
    } else if (this.available && (this.loggedDown || first)) {
      this.loggedDown = false;
      this.logger.info(
        { redis: this.where },
        first
          ? 'Redis answers: cost budgets, usage results, persisted queries and key revocations are shared between processes'
          : 'Redis answers again: cost budgets, usage results, persisted queries and key revocations are shared again',
      );
    }
  }
}

/** Opens the shared store REDIS_URL names, or null without one. */
export function openSharedStore(config: Pick<Config, 'redis'>, logger: Logger): Promise<SharedStore | null> {
  return config.redis ? SharedStore.open(config.redis, logger) : Promise.resolve(null);
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 200) || 'unknown error';
}
