/**
 * A small cache of `messages` lists read by replay pages, bounded by bytes and least recently used first out.
 *
 * A `checkpoint_blobs` row never changes once written ((thread, namespace, channel, version) is its key), and near the
 * end of a long thread every page serves its lists from the same few large ones, so a page need not fetch and parse
 * them again. Entries are only read through a page of a conversation whose tenant was checked, and only when the index
 * facts of that version (bytes and digest) match the cached bytes, so a thread that was deleted and written again under
 * the same id is read afresh.
 */
import type { Database } from '../db/client';

/** Bytes of cached lists a server keeps (estimated heap: the raw bytes and their parse). */
export const MESSAGES_CACHE_BYTES = 12 * 1024 * 1024;

/** Heap an entry is counted for, per byte of its blob: the bytes themselves, and about 1.5 more for the parsed list. */
const HEAP_PER_BYTE = 3;

/** A bounded, least-recently-used map of values each counted for a number of bytes. */
export class ByteBoundedCache<Value> {
  private readonly entries = new Map<string, { value: Value; size: number }>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes counted for the entries held now. */
  get bytes(): number {
    return this.total;
  }

  /** Number of entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The value under `key` (now the most recently used), or undefined. */
  get(key: string): Value | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores a value counted for `size` bytes, dropping the least recently used ones; one larger than a quarter of the bound is not kept. */
  set(key: string, value: Value, size: number): void {
    this.delete(key);
    if (size > this.maxBytes / 4) return;
    this.entries.set(key, { value, size });
    this.total += size;
    for (const [oldest, entry] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.total -= entry.size;
    }
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
    this.total = 0;
  }

  /** Drops the entry under `key`, if any. */
  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.total -= entry.size;
  }
}

/** The cache key of a `messages` blob. */
export function messagesCacheKey(threadId: string, namespace: string, version: string): string {
  return `${threadId}\u0000${namespace}\u0000${version}`;
}

/** Size a cached list of a blob of `bytes` bytes is counted for. */
export function messagesCacheSize(bytes: number): number {
  return bytes * HEAP_PER_BYTE;
}

const caches = new WeakMap<Database, ByteBoundedCache<unknown>>();

/** The messages cache of a database (one per opened database, so servers and test databases never share one). */
export function messagesCacheOf<Value>(db: Database): ByteBoundedCache<Value> {
  let cache = caches.get(db);
  if (cache === undefined) {
    cache = new ByteBoundedCache(MESSAGES_CACHE_BYTES);
    caches.set(db, cache);
  }
  return cache as ByteBoundedCache<Value>;
}
