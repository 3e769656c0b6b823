/** What the live-events triggers announce (migration `live_events`); the payload's `k`. */
export type LiveEventKind = 'session.created' | 'session.status' | 'session.updated' | 'message.added';

const KINDS: ReadonlySet<string> = new Set<LiveEventKind>(['session.created', 'session.status', 'session.updated', 'message.added']);

/** One committed change, as its notification names it: ids only, never rows. */
export interface LiveEvent {
  readonly kind: LiveEventKind;
  readonly tenantId: string;
  readonly sessionKey: string;
  /** The message's key, for `message.added`. */
  readonly messageKey: string | null;
  /** `performance.now()` when this process received it, for the delivery latency metric. */
  readonly receivedAt: number;
}

/** Reads a notification payload; null for one this version does not know (written by a newer migration, say). */
export function parseLiveEvent(payload: string, receivedAt: number): LiveEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { k, t, s, m } = value as Record<string, unknown>;
  if (typeof k !== 'string' || !KINDS.has(k) || typeof t !== 'string' || typeof s !== 'string') return null;
  if (k === 'message.added' && typeof m !== 'string') return null;
  return { kind: k as LiveEventKind, tenantId: t, sessionKey: s, messageKey: typeof m === 'string' ? m : null, receivedAt };
}
