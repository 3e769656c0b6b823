import type { RequestContext, TenantContext } from '../core/context';
import type { Logger } from '../logger';
import { replayCursor } from '../replay/replay.cursor';
import { readReplayPage, replayPagesAtOnce, type ReplayConversation } from '../replay/replay.repository';
import { ReplayStep } from '../replay/replay.type';
import type { LiveDelivery, LiveIterator } from './live.stream';

/** One edge of `replayTail`: a step of the root graph with the cursor `Conversation.replay` gives it. */
export interface ReplayTailEdge {
  readonly cursor: string;
  readonly node: ReplayStep;
}

/** Steps read per statement round while catching up. */
const TAIL_PAGE = 100;
/** Pause before reading again after a failed read (the database is down, say). */
const RETRY_MS = 1_000;

/** What a tail needs of the live bus: wake-ups after LangGraph writes to a thread. */
export interface ThreadWatcher {
  watchThread(threadId: string, wake: () => void): () => void;
}

/**
 * The live tail of a conversation's root graph as an async iterator of edges: the steps after `after` (catch-up), then
 * each new one as LangGraph writes it. Registered for wake-ups BEFORE the first read, and every read asks for the
 * steps after the last ordinal handed out: a write committed before the registration is in the first read, one
 * committed after it wakes a further read, and a step is never handed out twice (ordinals are the replay's, without
 * gaps). Wake-ups arriving during a read make one more read. Pull-based: a read happens only when the client has taken
 * what was read before, so a slow client lags behind (it can resume with the last cursor) instead of queueing events.
 * `conversation` null (another tenant's, or none) yields nothing until completed.
 */
export function replayTailStream(options: {
  watcher: ThreadWatcher;
  /** The subscription's context, acting for its tenant; steps are read as that tenant. */
  context: RequestContext & TenantContext;
  conversation: ReplayConversation | null;
  listKey: string;
  /** The ordinal of the last step the client has (0 for all steps). */
  after: number;
  logger: Logger;
}): LiveIterator<LiveDelivery<ReplayTailEdge>> {
  const { watcher, context, conversation, listKey, logger } = options;
  let last = options.after;
  let dirty = conversation !== null;
  let dirtySince = performance.now();
  let ended = false;
  let waiting: (() => void) | undefined;
  const ready: LiveDelivery<ReplayTailEdge>[] = [];
  const wake = () => {
    if (!dirty) dirtySince = performance.now();
    dirty = true;
    const resolve = waiting;
    waiting = undefined;
    resolve?.();
  };
  const unwatch = conversation === null ? () => undefined : watcher.watchThread(conversation.threadId, wake);
  const done = (): IteratorResult<LiveDelivery<ReplayTailEdge>> => ({ done: true, value: undefined });

  const readMore = async (): Promise<void> => {
    const receivedAt = dirtySince;
    dirty = false;
    let steps;
    try {
      steps = await replayPagesAtOnce.run(() =>
        readReplayPage(context, conversation!, '', { want: TAIL_PAGE, backward: false, cursor: last, types: null }),
      );
    } catch (error) {
      logger.warn({ err: error, threadId: conversation!.threadId }, 'replayTail could not read the thread; retrying');
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      dirty = true;
      return;
    }
    for (const step of steps) {
      if (step.ordinal <= last) continue;
      last = step.ordinal;
      ready.push({ value: { cursor: replayCursor(listKey, step.ordinal), node: ReplayStep.fromStep(step) }, context, receivedAt });
    }
    // A full page: more steps may follow at once.
    if (steps.length === TAIL_PAGE) dirty = true;
  };

  const iterator: LiveIterator<LiveDelivery<ReplayTailEdge>> = {
    async next() {
      for (;;) {
        if (ended) return done();
        if (ready.length > 0) return { done: false, value: ready.shift()! };
        if (dirty) {
          await readMore();
          continue;
        }
        await new Promise<void>((resolve) => (waiting = resolve));
      }
    },
    return() {
      if (!ended) {
        ended = true;
        unwatch();
        ready.length = 0;
        const resolve = waiting;
        waiting = undefined;
        resolve?.();
      }
      return Promise.resolve(done());
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
