import type { Logger } from '../logger';

/** A background job the server runs on an interval. */
export interface Job {
  readonly name: string;
  /** 0 disables the job. */
  readonly intervalMs: number;
  /** Run the first pass as soon as the server starts instead of after one interval. */
  readonly runAtStart?: boolean;
  /** Does one pass and returns what it did, for the log; must be safe while other replicas run it too. */
  run(): Promise<Record<string, unknown>>;
}

/**
 * Runs jobs on their intervals, one pass at a time per job (a slow pass delays the next, never
 * overlaps it). A failing pass is logged and retried at the next tick; `stop` waits for running passes.
 */
export class JobScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly jobs: readonly Job[],
    private readonly logger: Logger,
  ) {}

  /** Schedules every enabled job; the first pass runs after one interval, or at once for `runAtStart` jobs. */
  start(): void {
    for (const job of this.jobs) {
      if (job.intervalMs > 0) this.schedule(job, job.runAtStart ? 0 : job.intervalMs);
    }
  }

  /** Runs one pass of a job now (also used by tests and the CLI); resolves when it is done. */
  async runOnce(job: Job): Promise<Record<string, unknown> | null> {
    const started = performance.now();
    try {
      const summary = await job.run();
      this.logger.info({ job: job.name, durationMs: Math.round(performance.now() - started), ...summary }, 'job finished');
      return summary;
    } catch (error) {
      this.logger.error({ job: job.name, err: error }, 'job failed; it will run again at its next interval');
      return null;
    }
  }

  /** Cancels future passes and waits for those running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
  }

  private schedule(job: Job, delayMs = job.intervalMs): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const pass = this.runOnce(job).then(() => {
        this.running.delete(pass);
        this.schedule(job);
      });
      this.running.add(pass);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }
}
