import type { SharedStore } from '../db/redis';

/** How long a persisted query is kept in Redis after it was registered; a client whose hash expired sends the text again. */
export const PERSISTED_QUERY_TTL_SECONDS = 24 * 60 * 60;
/** Most characters of query text kept in this process; the least recently used queries are dropped first. */
const LOCAL_MAX_CHARACTERS = 8 * 1024 * 1024;

/**
 * The automatic-persisted-query cache (Apollo's KeyValueCache: query hash to query text), shared by every server
 * process through Redis when there is a shared store: a query registered on one process is known to all. Each process
 * also keeps the queries it saw (a hash names its text forever, so a copy is never stale), which is all there is while
 * Redis is down or without REDIS_URL; a query registered meanwhile is known to the process that saw it.
 */
export class PersistedQueryCache {
  /** Query texts by key in least-recently-used-first order (a Map keeps insertion order). */
  private readonly local = new Map<string, string>();
  private characters = 0;

  constructor(private readonly shared: SharedStore | null) {}

  async get(key: string): Promise<string | undefined> {
    const kept = this.local.get(key);
    if (kept !== undefined) {
      this.local.delete(key);
      this.local.set(key, kept);
      return kept;
    }
    const shared = await this.shared?.run((redis) => redis.get(this.sharedKey(key)));
    if (typeof shared !== 'string') return undefined;
    this.keep(key, shared);
    return shared;
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    this.keep(key, value);
    const ttl = options?.ttl ?? PERSISTED_QUERY_TTL_SECONDS;
    await this.shared?.run((redis) => redis.set(this.sharedKey(key), value, 'EX', ttl));
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.local.delete(key);
    await this.shared?.run((redis) => redis.del(this.sharedKey(key)));
    return existed;
  }

  private sharedKey(key: string): string {
    // Apollo's keys are already `apq:<sha256>`.
    return this.shared!.key(key);
  }

  private keep(key: string, value: string): void {
    const previous = this.local.get(key);
    if (previous !== undefined) this.characters -= previous.length;
    this.local.delete(key);
    this.local.set(key, value);
    this.characters += value.length;
    while (this.characters > LOCAL_MAX_CHARACTERS && this.local.size > 1) {
      const [oldest, text] = this.local.entries().next().value!;
      this.local.delete(oldest);
      this.characters -= text.length;
    }
  }
}
