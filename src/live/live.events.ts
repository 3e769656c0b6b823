/** What the live-events triggers announce (migration `live_events`); the payload's `k`. */
export type LiveEventKind = 'session.created' | 'session.status' | 'session.updated' | 'message.added';

const KINDS: ReadonlySet<string> = new Set<LiveEventKind>(['session.created', 'session.status', 'session.updated', 'message.added']);

/** What changed in a conversation, as the `agent_thread_events` trigger on `conversations` reports it (`x`). */
export type ConversationChangeKind = 'CREATED' | 'ADVANCED' | 'INTERRUPTED' | 'RESUMED' | 'FAILED';

const CONVERSATION_CHANGES: ReadonlySet<string> = new Set<ConversationChangeKind>([
  'CREATED',
  'ADVANCED',
  'INTERRUPTED',
  'RESUMED',
  'FAILED',
]);

/** One committed change of a session or message, as its notification names it: ids only, never rows. */
export interface LiveEvent {
  readonly kind: LiveEventKind;
  readonly tenantId: string;
  readonly sessionKey: string;
  /** The message's key, for `message.added`. */
  readonly messageKey: string | null;
  /** `performance.now()` when this process received it, for the delivery latency metric. */
  readonly receivedAt: number;
}

/**
 * LangGraph wrote to a thread's root graph: a checkpoint, or an interrupt, resume or error write (migration
 * `agent_thread_events`). It names the thread only: checkpoint rows carry no tenant.
 */
export interface ThreadEvent {
  readonly kind: 'thread.checkpoint';
  readonly threadId: string;
  readonly receivedAt: number;
}

/** A conversation row the sync wrote changed in a way `conversationChanged` reports. */
export interface ConversationEvent {
  readonly kind: 'conversation.changed';
  readonly tenantId: string;
  readonly conversationKey: string;
  /** The conversation's LangGraph thread. */
  readonly threadId: string;
  readonly changes: readonly ConversationChangeKind[];
  readonly receivedAt: number;
}

/** Any notification of the live channel this version knows. */
export type AnyLiveEvent = LiveEvent | ThreadEvent | ConversationEvent;

/** Reads a notification payload; null for one this version does not know (written by a newer migration, say). */
export function parseLiveEvent(payload: string, receivedAt: number): AnyLiveEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { k, t, s, m, th, c, x } = value as Record<string, unknown>;
  if (k === 'thread.checkpoint') return typeof th === 'string' ? { kind: k, threadId: th, receivedAt } : null;
  if (k === 'conversation.changed') {
    if (typeof t !== 'string' || typeof c !== 'string' || typeof th !== 'string' || !Array.isArray(x)) return null;
    const changes = x.filter((change): change is ConversationChangeKind => typeof change === 'string' && CONVERSATION_CHANGES.has(change));
    return { kind: k, tenantId: t, conversationKey: c, threadId: th, changes, receivedAt };
  }
  if (typeof k !== 'string' || !KINDS.has(k) || typeof t !== 'string' || typeof s !== 'string') return null;
  if (k === 'message.added' && typeof m !== 'string') return null;
  return { kind: k as LiveEventKind, tenantId: t, sessionKey: s, messageKey: typeof m === 'string' ? m : null, receivedAt };
}
