import type { FormattedExecutionResult } from 'graphql-ws';
import { createClient, type Client } from 'graphql-ws/client';

/** A result as the client receives it. */
type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;
import WebSocket from 'ws';

/** A subscription's results as a test reads them, one at a time. */
export interface TestSubscription {
  /** The next result (data or errors); rejects when none comes within `timeoutMs`. */
  next(timeoutMs?: number): Promise<Result>;
  /** Resolves when the server completed the subscription (or rejects with its error). */
  readonly done: Promise<void>;
  /** Results received and not yet read. */
  readonly buffered: Result[];
  /** Drops results for which `predicate` holds from now on (events of warm-up writes, say). */
  ignore(predicate: (result: Result) => boolean): void;
  unsubscribe(): void;
}

/** A graphql-ws client of a test server and how its socket was closed. */
export interface TestLiveClient {
  readonly client: Client;
  subscribe(query: string, variables?: Record<string, unknown>): TestSubscription;
  /** Resolves with the close event's code and reason when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

/** Connects to a test server's /graphql over WebSocket with `connectionParams` (e.g. `{ authorization: 'Bearer …' }`). */
export function connectLive(url: string, connectionParams: Record<string, unknown> = {}): TestLiveClient {
  let resolveClosed: (value: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: {
      closed: (event) =>
        resolveClosed({
          code: (event as { code: number; reason: string }).code,
          reason: String((event as { code: number; reason: string }).reason),
        }),
    },
    onNonLazyError: () => undefined,
  });
  return {
    client,
    closed,
    subscribe(query, variables) {
      const buffered: Result[] = [];
      const waiters: ((result: Result) => void)[] = [];
      const ignored: ((result: Result) => boolean)[] = [];
      let resolveDone: () => void = () => undefined;
      let rejectDone: (error: unknown) => void = () => undefined;
      const done = new Promise<void>((resolve, reject) => {
        resolveDone = resolve;
        rejectDone = reject;
      });
      done.catch(() => undefined);
      const unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (result) => {
            if (ignored.some((predicate) => predicate(result))) return;
            const waiter = waiters.shift();
            if (waiter) waiter(result);
            else buffered.push(result);
          },
          // An operation refused before it ran (graphql-ws's `error` message) is read like a result with errors.
          error: (error) => {
            if (Array.isArray(error)) {
              const result: Result = { errors: error as Result['errors'] };
              const waiter = waiters.shift();
              if (waiter) waiter(result);
              else buffered.push(result);
            }
            rejectDone(error);
          },
          complete: () => resolveDone(),
        },
      );
      return {
        buffered,
        done,
        ignore(predicate) {
          ignored.push(predicate);
          buffered.splice(0, buffered.length, ...buffered.filter((result) => !predicate(result)));
        },
        unsubscribe,
        next(timeoutMs = 10_000) {
          const ready = buffered.shift();
          if (ready) return Promise.resolve(ready);
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(waiter), 1);
              reject(new Error(`no subscription event within ${timeoutMs} ms`));
            }, timeoutMs);
            const waiter = (result: Result) => {
              clearTimeout(timer);
              resolve(result);
            };
            waiters.push(waiter);
          });
        },
      };
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

/** Opens a raw WebSocket speaking graphql-transport-ws (or `protocol`), for protocol-level tests. */
export async function rawSocket(
  url: string,
  protocol = 'graphql-transport-ws',
): Promise<{
  socket: WebSocket;
  messages: unknown[];
  closed: Promise<{ code: number; reason: string }>;
}> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), protocol);
  const messages: unknown[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages, closed };
}
