import type { RequestContext } from '../core/context';

/** One event for one subscription, with the context its selection is resolved in (fresh loaders per delivery batch). */
export interface LiveDelivery<T> {
  readonly value: T;
  /** The context of the batch that produced it: DataLoaders shared by the tenant's subscribers of that batch. */
  readonly context: RequestContext;
  /** `performance.now()` when the notification arrived. */
  readonly receivedAt: number;
}

/** Where a subscription's events are pushed by the bus. */
export interface LiveSink<T> {
  push(delivery: LiveDelivery<T>): void;
}

/**
 * One socket's share of the send queue: the events of all its subscriptions that wait to be sent. When the client reads
 * too slowly and the count passes `limit`, `onOverflow` runs once (the socket is then closed) and further events are
 * dropped.
 */
export class LiveConnection {
  private queued = 0;
  private overflowed = false;

  constructor(
    readonly limit: number,
    private readonly onOverflow: () => void,
    private readonly onDropped: (count: number) => void = () => undefined,
  ) {}

  /** Counts one more waiting event; false when the queue is full (the event is dropped and the socket closed). */
  admit(): boolean {
    if (this.overflowed) {
      this.onDropped(1);
      return false;
    }
    if (this.queued >= this.limit) {
      this.overflowed = true;
      this.onDropped(1);
      this.onOverflow();
      return false;
    }
    this.queued++;
    return true;
  }

  /** Counts events that left the queue (sent or discarded). */
  release(count = 1): void {
    this.queued -= count;
  }

  /** Events waiting now. */
  get size(): number {
    return this.queued;
  }
}

/** An async iterator that also ends when `return()` is called while a `next()` is pending. */
export interface LiveIterator<T> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T>>;
}

/**
 * A subscription's events as an async iterator: pushed by the bus, pulled by graphql-ws one at a time (it pulls the
 * next only after sending the previous, so the queue here is the socket's backlog, counted in `connection`).
 * `return()` (client `complete`, socket closed, server shutdown) ends it at once, a pending `next()` included (an async
 * generator would wait for its pending `next()` first, that is for the next event), and stops watching.
 */
export function liveStream<T>(connection: LiveConnection, register: (sink: LiveSink<T>) => () => void): LiveIterator<LiveDelivery<T>> {
  const queue: LiveDelivery<T>[] = [];
  let waiting: ((result: IteratorResult<LiveDelivery<T>>) => void) | undefined;
  let ended = false;
  const done = (): IteratorResult<LiveDelivery<T>> => ({ done: true, value: undefined });
  const unregister = register({
    push(delivery) {
      if (ended || !connection.admit()) return;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        connection.release();
        resolve({ done: false, value: delivery });
      } else queue.push(delivery);
    },
  });
  const iterator: LiveIterator<LiveDelivery<T>> = {
    next() {
      if (queue.length > 0) {
        connection.release();
        return Promise.resolve({ done: false, value: queue.shift()! });
      }
      if (ended) return Promise.resolve(done());
      return new Promise((resolve) => (waiting = resolve));
    },
    return() {
      if (!ended) {
        ended = true;
        unregister();
        connection.release(queue.length);
        queue.length = 0;
        waiting?.(done());
        waiting = undefined;
      }
      return Promise.resolve(done());
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
