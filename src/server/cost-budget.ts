/** A key's budget as `extensions.cost.throttleStatus` reports it, in the shape of Shopify's Admin GraphQL API. */
export interface ThrottleStatus {
  /** Points the bucket holds when full: the most one key can spend in a burst. */
  readonly maximumAvailable: number;
  /** Points the key may spend now (rounded down). */
  readonly currentlyAvailable: number;
  /** Points restored per second, up to `maximumAvailable`. */
  readonly restoreRate: number;
}

/** What `CostBudget.take` decided. */
export interface BudgetDecision {
  readonly taken: boolean;
  readonly status: ThrottleStatus;
  /** Milliseconds until the cost is available; 0 when it was taken. */
  readonly retryAfterMs: number;
}

/** The keys' cost budgets: kept in this process (CostBudget) or shared by every process in Redis (SharedCostBudget). */
export interface KeyBudgets {
  readonly maximumAvailable: number;
  readonly restoreRate: number;
  /** Takes `cost` points from the key's bucket if it holds them; otherwise takes nothing and says when it will. */
  take(key: string, cost: number): BudgetDecision | Promise<BudgetDecision>;
  /** Returns points taken for an operation that did not run; answers the budget after. */
  giveBack(key: string, cost: number): ThrottleStatus | Promise<ThrottleStatus>;
  /** The key's budget now. */
  status(key: string): ThrottleStatus | Promise<ThrottleStatus>;
}

/**
 * Leaky buckets of query cost points, one per key, kept in this process: each starts full, an operation takes its
 * cost from its key's bucket, and points flow back at `restoreRate` per second. A bucket is stored only while it is
 * not full (a full one is the same as none), so idle keys cost no memory. The state is two numbers per key, so a
 * shared store later (a Redis script of the same formula) needs no other design.
 */
export class CostBudget implements KeyBudgets {
  private readonly buckets = new Map<string, { available: number; at: number }>();

  constructor(
    readonly maximumAvailable: number,
    readonly restoreRate: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `cost` points from the key's bucket if it holds them; otherwise takes nothing and says when it will. */
  take(key: string, cost: number): BudgetDecision {
    const now = this.now();
    const available = this.available(key, now);
    if (cost > available) {
      const retryAfterMs = Math.ceil(((cost - available) / this.restoreRate) * 1000);
      return { taken: false, status: this.statusOf(available), retryAfterMs };
    }
    this.store(key, available - cost, now);
    return { taken: true, status: this.statusOf(available - cost), retryAfterMs: 0 };
  }

  /** Returns points taken for an operation that did not run; answers the budget after. */
  giveBack(key: string, cost: number): ThrottleStatus {
    const now = this.now();
    const available = Math.min(this.maximumAvailable, this.available(key, now) + cost);
    this.store(key, available, now);
    return this.statusOf(available);
  }

  /** The key's budget now. */
  status(key: string): ThrottleStatus {
    return this.statusOf(this.available(key, this.now()));
  }

  private available(key: string, now: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.maximumAvailable;
    return Math.min(this.maximumAvailable, bucket.available + ((now - bucket.at) / 1000) * this.restoreRate);
  }

  private store(key: string, available: number, now: number): void {
    if (available >= this.maximumAvailable) {
      this.buckets.delete(key);
      return;
    }
    // Keys are API keys, so the map is small; should it grow, the buckets full by now are dropped.
    if (this.buckets.size >= 10_000) {
      for (const [other] of this.buckets) if (this.available(other, now) >= this.maximumAvailable) this.buckets.delete(other);
    }
    this.buckets.set(key, { available, at: now });
  }

  private statusOf(available: number): ThrottleStatus {
    return { maximumAvailable: this.maximumAvailable, currentlyAvailable: Math.floor(available), restoreRate: this.restoreRate };
  }
}
