import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/client';
import type { RequestContext } from '../core/context';

type RequestLabel = 'operation' | 'outcome';

/** convoql's Prometheus metrics, on a registry of their own (one per server, so tests never share counters). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'convoql_graphql_requests_total',
    help: 'GraphQL operations by operation name and outcome (success or the first error code).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'convoql_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by operation name and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly dataLoaderBatchSize = new Histogram({
    name: 'convoql_dataloader_batch_size',
    help: 'Keys per DataLoader batch (one SQL statement each), by loader.',
    labelNames: ['loader'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });

  constructor(db: Database) {
    collectDefaultMetrics({ register: this.registry, prefix: 'convoql_' });
    const pool = db.pool;
    new Gauge({
      name: 'convoql_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting clients).',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  /** An Apollo plugin counting operations and their latency. */
  plugin(): ApolloServerPlugin<RequestContext> {
    return {
      requestDidStart: async () => {
        const started = performance.now();
        return {
          willSendResponse: async ({ operationName, errors, response }) => {
            const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
            const first = (errors ?? body?.errors ?? [])[0];
            const series = this.requestSeries(
              operationName ?? 'anonymous',
              first ? String(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : 'success',
            );
            series.count.inc();
            series.duration.observe((performance.now() - started) / 1000);
          },
        };
      },
    };
  }

  private readonly seriesByLabels = new Map<string, { count: Counter.Internal; duration: Histogram.Internal<RequestLabel> }>();

  /** The request counter and histogram of one operation and outcome, kept so a request does not hash its labels again. */
  private requestSeries(operation: string, outcome: string) {
    const key = `${operation}\u0000${outcome}`;
    let series = this.seriesByLabels.get(key);
    if (!series) {
      if (this.seriesByLabels.size >= 1000) this.seriesByLabels.clear();
      series = { count: this.requests.labels({ operation, outcome }), duration: this.requestDuration.labels({ operation, outcome }) };
      this.seriesByLabels.set(key, series);
    }
    return series;
  }
}
