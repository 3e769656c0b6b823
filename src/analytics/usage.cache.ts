import type { TenantContext } from '../core/context';
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
 */
export class UsageCache<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  /** Finished results in least-recently-used-first order (a Map keeps insertion order). */
  private readonly finished = new Map<string, { value: T; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.ttlMs = options.ttlMs;
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
    const loading = load();
    this.inFlight.set(key, loading);
    loading.then(
      (value) => {
        this.inFlight.delete(key);
        if (this.ttlMs > 0) this.keep(key, value);
      },
      // The callers see the error through `loading`; here it only must not be kept.
      () => this.inFlight.delete(key),
    );
    return loading;
  }

  private keep(key: string, value: T): void {
    this.finished.set(key, { value, expiresAt: this.now() + this.ttlMs });
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
