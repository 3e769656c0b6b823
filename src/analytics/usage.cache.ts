import { createHash } from 'node:crypto';
import type { TenantContext } from '../core/context';
import type { SharedStore } from '../db/redis';
import type { UsageQuery } from './usage.repository';

/**
 * Most finished results a process keeps; the least recently used one is dropped first. A result holds at most 366
 * buckets (≈100 KB), so the cache stays near 10 MB at worst.
 */
export const USAGE_CACHE_MAX_ENTRIES = 100;

/**
 * Shares usage results between the requests of one process, per tenant and normalized arguments:
 * concurrent identical queries wait for one statement (single-flight), and a finished result is
 * reused for `ttlMs` (0: never reused). Failures are never kept; every waiter of a failed load gets
 * its error. Created once per server and reached through the request context.
 *
 * With a shared store (REDIS_URL) a finished result is also kept in Redis for `ttlMs`, as JSON, and every process
 * reuses it: a result another process computed is fetched (one round trip) before a statement runs, and kept here
 * only for what remains of its time in Redis, so no result is older than `ttlMs` anywhere. Identical queries that
 * start in two processes at once each run their statement. While Redis is down, each process uses only its own results.
 */
export class UsageCache<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  /** Finished results in least-recently-used-first order (a Map keeps insertion order). */
  private readonly finished = new Map<string, { value: T; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  private readonly shared: SharedStore | null;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number; shared?: SharedStore | null }) {
    this.ttlMs = options.ttlMs;
    this.shared = options.ttlMs > 0 ? (options.shared ?? null) : null;
    this.maxEntries = options.maxEntries ?? USAGE_CACHE_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /** Finished results currently kept (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.finished.size;
  }

  /** The tenant's result for `query`: a kept one, the one in flight, or a new `load()`. */
  get(context: TenantContext, query: UsageQuery, load: () => Promise<T>): Promise<T> {
    const key = usageCacheKey(context.viewer.tenantId, query);
    const kept = this.finished.get(key);
    if (kept) {
      this.finished.delete(key);
      if (kept.expiresAt > this.now()) {
        this.finished.set(key, kept);
        return Promise.resolve(kept.value);
      }
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const loading = this.shared ? this.loadShared(this.shared, key, context.viewer.tenantId, load) : load();
    this.inFlight.set(key, loading);
    loading.then(
      (value) => {
        this.inFlight.delete(key);
        if (this.ttlMs > 0 && !this.finished.has(key)) this.keep(key, value);
      },
      // The callers see the error through `loading`; here it only must not be kept.
      () => this.inFlight.delete(key),
    );
    return loading;
  }

  /** The result kept in Redis, or a new `load()` kept there; Redis failing only means loading. */
  private async loadShared(shared: SharedStore, key: string, tenantId: string, load: () => Promise<T>): Promise<T> {
    // The tenant in the clear (for whoever inspects Redis), the arguments hashed: a metadata filter may be 4 KB.
    const sharedKey = shared.key(`usage:${tenantId}:${createHash('sha256').update(key).digest('base64url')}`);
    const kept = await shared.run((redis) => redis.multi().get(sharedKey).pttl(sharedKey).exec());
    const [value, ttl] = (kept ?? []).map((reply) => reply?.[1]);
    if (typeof value === 'string' && typeof ttl === 'number' && ttl > 0) {
      const parsed = JSON.parse(value) as T;
      this.keep(key, parsed, Math.min(ttl, this.ttlMs));
      return parsed;
    }
    const loaded = await load();
    void shared.run((redis) => redis.set(sharedKey, JSON.stringify(loaded), 'PX', this.ttlMs));
    return loaded;
  }

  private keep(key: string, value: T, ttlMs = this.ttlMs): void {
    this.finished.delete(key);
    this.finished.set(key, { value, expiresAt: this.now() + ttlMs });
    while (this.finished.size > this.maxEntries) this.finished.delete(this.finished.keys().next().value!);
  }
}

/** The cache key: the tenant first, then the arguments in a canonical form (filter lists as sets). */
export function usageCacheKey(tenantId: string, query: UsageQuery): string {
  const set = (values: readonly string[] | null | undefined) => (values?.length ? [...new Set(values)].sort() : null);
  return JSON.stringify([
    tenantId,
    query.groupBy,
    query.from.toISOString(),
    query.to.toISOString(),
    set(query.channel),
    set(query.status),
    query.metadata ?? null,
    query.text ?? null,
    query.hasErrors ?? null,
    set(query.toolName),
    set(query.model),
  ]);
}
