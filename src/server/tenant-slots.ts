/** A place in a tenant's line for an operation slot; `release` gives it back whatever state it is in. */
export interface SlotTicket {
  /** True once the slot is held; false when the line was full or the wait ran out (or the ticket was released first). */
  readonly granted: Promise<boolean>;
  /** Frees the slot, or leaves the line; idempotent. */
  release(): void;
}

interface Waiter {
  grant(): void;
  refuse(): void;
}

/**
 * Per-tenant caps on operations in flight: at most `limit` run at once for one tenant, up to `queueLength` more wait
 * in arrival order for at most `maxWaitMs`, and any further one is refused at once. A tenant's slow operations
 * then hold at most `limit` pool connections' worth of work while other tenants' operations go on.
 */
export class TenantSlots {
  private readonly tenants = new Map<string, { running: number; waiting: Waiter[] }>();

  constructor(
    readonly limit: number,
    readonly queueLength: number,
    readonly maxWaitMs: number,
  ) {}

  /** Asks for a slot of the tenant `key`. */
  acquire(key: string): SlotTicket {
    let tenant = this.tenants.get(key);
    if (!tenant) this.tenants.set(key, (tenant = { running: 0, waiting: [] }));
    const line = tenant;
    let state: 'waiting' | 'held' | 'done' = 'waiting';
    let waiter: Waiter | undefined;
    const release = () => {
      if (state === 'waiting') return waiter?.refuse();
      if (state !== 'held') return;
      state = 'done';
      // The slot passes straight to the next waiter, so `running` never drops below what actually runs.
      const next = line.waiting.shift();
      if (next) next.grant();
      else if (--line.running === 0) this.tenants.delete(key);
    };
    if (line.running < this.limit) {
      line.running += 1;
      state = 'held';
      return { granted: Promise.resolve(true), release };
    }
    if (line.waiting.length >= this.queueLength) {
      state = 'done';
      return { granted: Promise.resolve(false), release };
    }
    const granted = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => waiter!.refuse(), this.maxWaitMs);
      waiter = {
        grant: () => {
          clearTimeout(timer);
          state = 'held';
          resolve(true);
        },
        refuse: () => {
          clearTimeout(timer);
          line.waiting.splice(line.waiting.indexOf(waiter!), 1);
          state = 'done';
          resolve(false);
        },
      };
      line.waiting.push(waiter);
    });
    return { granted, release };
  }
}
