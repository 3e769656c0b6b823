import type { SharedStore } from '../db/redis';

/** The Redis channel (after REDIS_KEY_PREFIX) on which the id of each revoked API key is published. */
export const REVOCATIONS_CHANNEL = 'api-key-revoked';

/**
 * Tells every server process sharing the store that the key was revoked, so each stops accepting it at once instead
 * of when its cached lookup expires; the number of processes told, or undefined when Redis did not answer.
 */
export function publishRevocation(store: SharedStore, apiKeyId: string): Promise<number | undefined> {
  return store.publish(REVOCATIONS_CHANNEL, apiKeyId);
}

/**
 * Calls `revoked` with the id of each key revoked by any process, and `missed` whenever the subscription was made
 * again after Redis was down (revocations published meanwhile were not received).
 */
export function subscribeToRevocations(store: SharedStore, revoked: (apiKeyId: string) => void, missed: () => void): void {
  store.subscribe(REVOCATIONS_CHANNEL, revoked);
  store.onResubscribed(missed);
}
