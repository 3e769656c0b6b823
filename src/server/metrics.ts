import type { ApolloServerPlugin } from '@apollo/server';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SharedStoreStatus } from '../db/redis';
import type { Database } from '../db/client';
import type { ReadReplicas } from '../db/read-replicas';
import type { RequestContext } from '../core/context';
import { clientErrorCode } from './error-codes';
import { HttpError, sendJsonError } from './graphql-http';

type RequestLabel = 'operation' | 'outcome';

/**
 * The `operation` label of requests that must not create a series of their own: without an API key (or with
 * an unknown one), refused before execution (parse, validation, limits, a forbidden tenant), or named after
 * the first `maxOperations` names. Anyone can send a new operation name with every request; these keep the
 * number of series, and the memory and scrape time they cost, bounded.
 */
export const OPERATION_LABELS = { unauthenticated: 'unauthenticated', rejected: 'rejected', other: 'other' } as const;

/** Longer operation names are counted as `other`: a name is a single token, and may be as long as a body allows. */
const MAX_OPERATION_NAME_LENGTH = 100;

/** convoql's Prometheus metrics, on a registry of their own (one per server, so tests never share counters). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'convoql_graphql_requests_total',
    help: 'GraphQL operations by operation name (or unauthenticated, rejected, other) and outcome (success or the first error code).',
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

  /** Open WebSocket connections (graphql-ws on /graphql). */
  readonly liveSockets = new Gauge({
    name: 'convoql_live_sockets',
    help: 'Open WebSocket connections serving subscriptions.',
    registers: [this.registry],
  });

  readonly liveSubscriptions = new Gauge({
    name: 'convoql_live_subscriptions',
    help: 'Active subscriptions by subscription field.',
    labelNames: ['field'] as const,
    registers: [this.registry],
  });

  readonly liveEvents = new Counter({
    name: 'convoql_live_events_total',
    help: 'Subscription events by outcome: delivered (sent to a socket), dropped (a slow consumer closed, or the rows could not be read).',
    labelNames: ['field', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly liveDeliveryLatency = new Histogram({
    name: 'convoql_live_delivery_latency_seconds',
    help: 'From the notification of a committed change reaching this process to its event being sent, by subscription field.',
    labelNames: ['field'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly replicaReads = new Counter({
    name: 'convoql_replica_reads_total',
    help: 'Queries by where they read (DATABASE_READ_URL set): replica; primary (asked for, or no replica up); retried (lost its replica, ran again on the primary).',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  /** Reports each read replica's state as `convoql_read_replica_up{replica}` (1 up, 0 down). */
  observeReplicas(replicas: ReadReplicas): void {
    new Gauge({
      name: 'convoql_read_replica_up',
      help: 'Whether each read replica answered its last health check (1) or not (0); reads skip a replica at 0.',
      labelNames: ['replica'] as const,
      registers: [this.registry],
      collect() {
        for (const replica of replicas.status()) this.set({ replica: replica.name }, replica.state === 'up' ? 1 : 0);
      },
    });
  }

  /** Operation names with a series of their own, first come first served, at most `maxOperations`. */
  private readonly operations = new Set<string>();
  private readonly maxOperations: number;

  constructor(db: Database, options: { maxOperations: number }) {
    this.maxOperations = options.maxOperations;
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

  /** Adds `convoql_redis_up`: 1 while budgets, caches and revocations are shared through Redis, 0 while they are per process. */
  watchRedis(redis: SharedStoreStatus): void {
    new Gauge({
      name: 'convoql_redis_up',
      help: 'Whether the shared state in Redis (REDIS_URL) is in use (1), or Redis does not answer and state is per process (0).',
      registers: [this.registry],
      collect() {
        this.set(redis.available ? 1 : 0);
      },
    });
  }

  /**
   * An Apollo plugin counting operations and their latency. The outcome is `success` or the code the client
   * received for the first error (so a pool timeout counts as SERVICE_UNAVAILABLE, and no other value appears).
   */
  plugin(): ApolloServerPlugin<RequestContext> {
    return {
      // An unknown key (or the database down at the key lookup) fails before Apollo's pipeline starts.
      contextCreationDidFail: async ({ error }) => {
        const outcome = clientErrorCode(error);
        const operation = outcome === 'UNAUTHENTICATED' ? OPERATION_LABELS.unauthenticated : OPERATION_LABELS.rejected;
        this.requests.inc({ operation, outcome });
      },
      requestDidStart: async ({ contextValue }) => {
        const started = performance.now();
        return {
          willSendResponse: async ({ operationName, errors, response }) => {
            const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
            const first = (errors ?? body?.errors ?? [])[0];
            // A single result without `data` was refused before execution; an incremental one was executed.
            const executed = body === undefined || 'data' in body;
            const operation = !contextValue.viewer
              ? OPERATION_LABELS.unauthenticated
              : executed
                ? this.operationLabel(operationName ?? 'anonymous')
                : OPERATION_LABELS.rejected;
            const series = this.requestSeries(operation, first ? clientErrorCode(first) : 'success');
            series.count.inc();
            series.duration.observe((performance.now() - started) / 1000);
          },
        };
      },
    };
  }

  /** The operation's own name while fewer than `maxOperations` names have a series, or a known one; else `other`. */
  private operationLabel(name: string): string {
    if (this.operations.has(name)) return name;
    if (this.operations.size >= this.maxOperations || name.length > MAX_OPERATION_NAME_LENGTH) return OPERATION_LABELS.other;
    this.operations.add(name);
    return name;
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

/**
 * Serves the registry in Prometheus' text format. With a token, a scrape must send `Authorization: Bearer <token>`
 * (compared in constant time); without one it answers 401 UNAUTHENTICATED and reveals nothing.
 */
export function metricsHandler(
  metrics: Metrics,
  token: string | undefined,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const expected = token === undefined ? undefined : digest(token);
  return async (request, response) => {
    if (expected) {
      const sent = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
      if (!sent || !timingSafeEqual(digest(sent), expected)) {
        response.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return sendJsonError(
          response,
          new HttpError(
            401,
            'UNAUTHENTICATED',
            'The metrics endpoint needs "Authorization: Bearer <METRICS_TOKEN>"; none or another token was sent.',
          ),
        );
      }
    }
    const text = await metrics.registry.metrics();
    response.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    response.end(text);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
