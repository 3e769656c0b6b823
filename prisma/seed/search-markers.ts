// Metadata and words that select known shares of the seeded data, so that search filters of about 10 %, 1 % and
// 0.01 % selectivity exist (the search benchmark, bench/search.ts, filters by them). They are drawn from random
// streams of their own, so the rest of the generated data is the same with or without them.
import { Random } from './random';

/** A selectivity tier: the share of rows it selects and its label. */
export type SearchTier = '10%' | '1%' | '0.01%';

/** The tiers, most common first. */
export const SEARCH_TIERS: readonly SearchTier[] = ['10%', '1%', '0.01%'];

/** Share of rows each tier selects. */
export const TIER_SHARES: Readonly<Record<SearchTier, number>> = { '10%': 0.1, '1%': 0.01, '0.01%': 0.0001 };

/** The `campaign` key of session and agent-thread (run) metadata: `{"campaign": value}` selects a tier's share. */
export const CAMPAIGNS: Readonly<Record<SearchTier, string>> = {
  '10%': 'spring-sale',
  '1%': 'loyalty-pilot',
  '0.01%': 'recall-2026',
};

/**
 * A sentence one user message of a tier's share of sessions (and the first user message of agent threads) ends with,
 * and its word, which appears nowhere else: searching the word selects the tier's share of sessions or threads.
 */
export const SESSION_MARKERS: Readonly<Record<SearchTier, { word: string; sentence: string }>> = {
  '10%': { word: 'voucher', sentence: 'I also have a voucher from your newsletter.' },
  '1%': { word: 'chargeback', sentence: 'My bank says they opened a chargeback.' },
  '0.01%': { word: 'subpoena', sentence: 'Our lawyers received a subpoena about this order.' },
};

/**
 * A postscript user messages end with, so that the word selects about a tier's share of all messages (user messages
 * are about USER_MESSAGE_SHARE of them; see userMessageTier).
 */
export const MESSAGE_MARKERS: Readonly<Record<SearchTier, { word: string; sentence: string }>> = {
  '10%': { word: 'holiday', sentence: 'P.S. I am on holiday next week.' },
  '1%': { word: 'garage', sentence: 'P.S. The parcel box is in the garage.' },
  '0.01%': { word: 'parrot', sentence: 'P.S. My parrot ate the manual.' },
};

/** About this share of the seeded sessions' messages are USER messages (10 per session on average). */
const USER_MESSAGE_SHARE = 0.4;

/** The tier a uniform draw falls in when each tier takes `scale` × its share, or null (exclusive tiers). */
function tierOf(draw: number, scale: number): SearchTier | null {
  let bound = 0;
  for (const tier of [...SEARCH_TIERS].reverse()) {
    bound += TIER_SHARES[tier] * scale;
    if (draw < bound) return tier;
  }
  return null;
}

/** The search markers of one session or agent thread: its campaign tier and its text tier (each null for most). */
export interface RowMarkers {
  readonly campaign: SearchTier | null;
  readonly text: SearchTier | null;
  /** A random stream for further choices (which message carries the text, the messages' postscripts). */
  readonly rng: Random;
}

/** The markers of the row `kind` `index` of a tenant, from a stream of their own. */
export function rowMarkers(seed: number, kind: 'session' | 'conversation', tenantId: string, index: number): RowMarkers {
  const rng = new Random(`${seed}:search-markers:${kind}:${tenantId}:${index}`);
  return { campaign: tierOf(rng.next(), 1), text: tierOf(rng.next(), 1), rng };
}

/** The postscript tier of one user message, drawn from `rng`, so that about each tier's share of all messages has it. */
export function userMessageTier(rng: Random): SearchTier | null {
  return tierOf(rng.next(), 1 / USER_MESSAGE_SHARE);
}

/** The agent thread (by index in its tenant) that carries the rarest tier's campaign and word. */
const RARE_THREAD_INDEX = 7;

/**
 * The markers of a tenant's `index`-th agent thread. A few thousand threads hold no 0.01 %: exactly one thread per
 * tenant (the 8th) is the rarest tier instead (1 in 2,000 = 0.05 % of the benchmark's threads).
 */
export function conversationMarkers(seed: number, tenantId: string, index: number): RowMarkers {
  const markers = rowMarkers(seed, 'conversation', tenantId, index);
  const tier = (drawn: SearchTier | null): SearchTier | null => (index === RARE_THREAD_INDEX ? '0.01%' : drawn === '0.01%' ? null : drawn);
  return { campaign: tier(markers.campaign), text: tier(markers.text), rng: markers.rng };
}
