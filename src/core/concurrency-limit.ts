/**
 * Runs at most `limit` tasks at once; the others wait their turn in arrival order. Used around work whose memory
 * grows with how many requests do it at the same moment, so that 64 concurrent requests cost what a few do.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` never drops below what is actually running.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
