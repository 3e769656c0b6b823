import { Client } from 'pg';

/**
 * The channel the live-events triggers notify (migration `live_events`): every committed insert of a session or message
 * and every visible change of a session, as a small JSON payload of ids.
 */
export const LIVE_EVENTS_CHANNEL = 'convoql_live';

/** Notifications of one PostgreSQL channel, as one process receives them. */
export interface NotificationSource {
  /** Starts listening; resolves once notifications committed from now on will be delivered. Idempotent. */
  start(): Promise<void>;
  /** Calls `listener` with each notification's payload, in commit order; returns a function that stops it. */
  onNotification(listener: (payload: string) => void): () => void;
  /**
   * Calls `listener` when notifications may have been missed: the listening connection was lost and has been opened
   * again. Subscribers can then catch up from the database.
   */
  onGap(listener: () => void): () => void;
  /** Stops listening; idempotent. */
  stop(): Promise<void>;
}

/** What a notification source reports about its connection; a logger satisfies it. */
export interface NotificationLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

const RECONNECT_DELAYS_MS = [100, 500, 1_000, 2_000, 5_000];

/**
 * Listens on PostgreSQL with one dedicated connection per process (LISTEN holds its connection, so it cannot come from
 * the pool). A lost connection is reopened with back-off, and `onGap` listeners are told once it listens again.
 */
export function listenOnPostgres(connectionString: string, channel: string, log?: NotificationLog): NotificationSource {
  const listeners = new Set<(payload: string) => void>();
  const gapListeners = new Set<() => void>();
  let client: Client | undefined;
  let started: Promise<void> | undefined;
  let stopped = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
    next.on('notification', (message) => {
      if (message.channel !== channel) return;
      for (const listener of listeners) listener(message.payload ?? '');
    });
    next.on('error', (error) => {
      log?.warn({ err: error }, 'lost the live-events connection; reconnecting');
      void next.end().catch(() => undefined);
      if (client === next) reconnectLater();
    });
    await next.connect();
    await next.query(`LISTEN ${quoteIdentifier(channel)}`);
    if (stopped) return void (await next.end().catch(() => undefined));
    client = next;
    attempt = 0;
  };
  const reconnectLater = () => {
    client = undefined;
    if (stopped) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(attempt++, RECONNECT_DELAYS_MS.length - 1)]!;
    retryTimer = setTimeout(() => {
      connect().then(
        () => {
          log?.info({ channel }, 'listening for live events again');
          for (const listener of gapListeners) listener();
        },
        (error: unknown) => {
          log?.warn({ err: error }, 'could not reopen the live-events connection');
          reconnectLater();
        },
      );
    }, delay);
    retryTimer.unref();
  };

  return {
    start: () => (started ??= connect()),
    onNotification(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onGap(listener) {
      gapListeners.add(listener);
      return () => gapListeners.delete(listener);
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}

/**
 * A notification source fed by whoever receives the notifications (the embedded PGlite's owner, see embedded.ts); it
 * never misses any, as nothing sits between the database and this process.
 */
export function notificationHub(): NotificationSource & { deliver(payload: string): void } {
  const listeners = new Set<(payload: string) => void>();
  return {
    start: async () => undefined,
    onNotification(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onGap: () => () => undefined,
    stop: async () => listeners.clear(),
    deliver(payload) {
      for (const listener of listeners) listener(payload);
    },
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
