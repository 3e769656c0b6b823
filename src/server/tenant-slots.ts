/** A place in a tenant's line for an operation slot; `release` gives it back whatever state it is in. */
export interface SlotTicket {
  /** True once the slot is held; false when the line was full or the wait ran out (or the ticket was released first). */
  readonly granted: Promise<boolean>;
  /** Frees the slot, or leaves the line; idempotent. */
  release(): void;
}

/** How long after its last operation ended a tenant still counts as active. */
const ACTIVITY_WINDOW_MS = 100;

interface Waiter {
  readonly cost: number;
  grant(): void;
  refuse(): void;
}

interface Line {
  running: number;
  runningCost: number;
  /** Of `running`, the operations that are holding back for other tenants (see `yieldToOthers`). */
  yielding: number;
  waiting: Waiter[];
}

/**
 * Per-tenant caps on operations in flight: at most `limit` run at once for one tenant, and together they may cost at
 * most `costLimit` (one operation runs whatever its cost, so the costliest admitted one still runs alone). Up to
 * `queueLength` more wait in arrival order for at most `maxWaitMs`, and any further one is refused at once. A tenant's
 * slow operations then hold at most `limit` pool connections, and its costliest ones run one at a time, while other
 * tenants' operations go on: on one Node thread, five heavy operations of one tenant at once left another tenant's
 * dashboard a twentieth of its throughput.
 */
export class TenantSlots {
  private readonly tenants = new Map<string, Line>();
  /** When each tenant's last operation ended, for tenants whose last one ended within ACTIVITY_WINDOW_MS. */
  private readonly lastEnded = new Map<string, number>();

  constructor(
    readonly limit: number,
    readonly queueLength: number,
    readonly maxWaitMs: number,
    readonly costLimit: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Asks for a slot of the tenant `key` for an operation of this cost. */
  acquire(key: string, cost = 0): SlotTicket {
    let line = this.tenants.get(key);
    if (!line) this.tenants.set(key, (line = { running: 0, runningCost: 0, yielding: 0, waiting: [] }));
    const tenant = line;
    let state: 'waiting' | 'held' | 'done' = 'waiting';
    let waiter: Waiter | undefined;
    const hold = () => {
      tenant.running += 1;
      tenant.runningCost += cost;
      state = 'held';
    };
    const release = () => {
      if (state === 'waiting') return waiter?.refuse();
      if (state !== 'held') return;
      state = 'done';
      tenant.running -= 1;
      tenant.runningCost -= cost;
      this.admitWaiting(tenant);
      if (tenant.running === 0 && tenant.waiting.length === 0) this.tenants.delete(key);
      this.lastEnded.set(key, Date.now());
    };
    if (tenant.waiting.length === 0 && this.fits(tenant, cost)) {
      hold();
      return { granted: Promise.resolve(true), release };
    }
    if (tenant.waiting.length >= this.queueLength) {
      state = 'done';
      if (tenant.running === 0 && tenant.waiting.length === 0) this.tenants.delete(key);
      return { granted: Promise.resolve(false), release };
    }
    const granted = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => waiter!.refuse(), this.maxWaitMs);
      waiter = {
        cost,
        grant: () => {
          clearTimeout(timer);
          hold();
          resolve(true);
        },
        refuse: () => {
          clearTimeout(timer);
          tenant.waiting.splice(tenant.waiting.indexOf(waiter!), 1);
          state = 'done';
          // A refused head of the line may have held back cheaper operations behind it.
          this.admitWaiting(tenant);
          if (tenant.running === 0 && tenant.waiting.length === 0) this.tenants.delete(key);
          resolve(false);
        },
      };
      tenant.waiting.push(waiter);
    });
    return { granted, release };
  }

  /**
   * Holds a costly operation of tenant `key`, which already has its slot, while other tenants are active (an operation
   * running, or one that ended within the last 100 ms, so that a client between two requests still counts), for at
   * most `maxWaitMs`. On one Node thread a costly operation's work delays every other request: it runs when other
   * tenants are quiet, or after the wait (it is never starved). Operations holding back do not count as activity, so
   * two tenants' costly operations do not wait for each other.
   */
  async yieldToOthers(key: string, maxWaitMs: number): Promise<void> {
    const own = this.tenants.get(key);
    if (!own || !this.othersActive(key)) return;
    own.yielding += 1;
    const deadline = Date.now() + maxWaitMs;
    try {
      while (Date.now() < deadline && this.othersActive(key)) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(ACTIVITY_WINDOW_MS / 4, deadline - Date.now())));
      }
    } finally {
      own.yielding -= 1;
    }
  }

  private othersActive(key: string): boolean {
    for (const [other, line] of this.tenants) if (other !== key && line.running - line.yielding > 0) return true;
    const now = Date.now();
    for (const [other, ended] of this.lastEnded) {
      if (now - ended >= ACTIVITY_WINDOW_MS) this.lastEnded.delete(other);
      else if (other !== key) return true;
    }
    return false;
  }

  /** Whether an operation of this cost may start now: under both caps, or alone. */
  private fits(tenant: Line, cost: number): boolean {
    return tenant.running === 0 || (tenant.running < this.limit && tenant.runningCost + cost <= this.costLimit);
  }

  /** Starts waiting operations in arrival order while the first of them fits. */
  private admitWaiting(tenant: Line): void {
    while (tenant.waiting.length > 0 && this.fits(tenant, tenant.waiting[0]!.cost)) tenant.waiting.shift()!.grant();
  }
}
