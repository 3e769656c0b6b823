import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import type { LoaderMetrics, Loaders, RequestContext, RequestScope, Viewer } from '../core/context';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { createLoaders, type SharedLoaderState } from './loaders';

/** Builds the per-request context: request id, viewer, child logger and fresh DataLoaders; process-wide objects are passed in. */
export function createRequestContext(options: {
  /** The primary. */
  db: Database;
  config: Config;
  logger: Logger;
  viewer: Viewer | null;
  metrics?: LoaderMetrics | null;
  /** The server's usage results shared between requests; outside a server, one for this request only. */
  usageCache?: UsageCache<UsageFigures[]>;
  requestId?: string;
}): RequestContext {
  const requestId = options.requestId ?? randomUUID();
  const scope: RequestScope = {
    requestId,
    viewer: options.viewer,
    db: options.db,
    primary: options.db,
    config: options.config,
    logger: options.logger.child({ requestId, tenant: options.viewer?.tenantId ?? undefined }),
    metrics: options.metrics ?? null,
  };
  return withLoaders(scope, { usageCache: options.usageCache ?? new UsageCache({ ttlMs: 0 }) });
}

/**
 * A request's context, with its DataLoaders created on first use: `{ __typename }` needs none, and a query routed to a
 * replica uses only those of its {@link readingFrom} copy. The getter is on the prototype because Apollo Server clones
 * every context (`Object.assign` onto an object of the same prototype): an own getter would be read by the clone,
 * creating every request's loaders. So a copy keeps the prototype (Object.assign onto it); a spread loses `loaders`.
 */
class ServerRequestContext implements RequestContext {
  readonly requestId: string;
  readonly viewer: RequestScope['viewer'];
  readonly db: Database;
  readonly primary: Database;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: LoaderMetrics | null;
  private created: Loaders | undefined = undefined;

  constructor(
    scope: RequestScope,
    private readonly shared: SharedLoaderState,
  ) {
    this.requestId = scope.requestId;
    this.viewer = scope.viewer;
    this.db = scope.db;
    this.primary = scope.primary;
    this.config = scope.config;
    this.logger = scope.logger;
    this.metrics = scope.metrics;
  }

  get loaders(): Loaders {
    return (this.created ??= createLoaders(this, this.shared));
  }
}

function withLoaders(scope: RequestScope, shared: SharedLoaderState): RequestContext {
  return new ServerRequestContext(scope, shared);
}

/**
 * The same request reading from `reader` (a replica) instead: same id, viewer and logger, its own loaders (the
 * original's stay unused, so the request can still run on the primary). The primary stays `primary`. Its usage results
 * are its own, not the server's shared ones: a query that fails on a replica runs again on the primary, and with a
 * shared cache that retry would wait for the replica's failing statement (single-flight) and fail with it.
 */
export function readingFrom(context: RequestContext, reader: Database): RequestContext {
  const { requestId, viewer, primary, config, logger, metrics } = context;
  return withLoaders(
    { requestId, viewer, db: reader, primary, config, logger, metrics },
    { usageCache: new UsageCache<UsageFigures[]>({ ttlMs: 0 }) },
  );
}
