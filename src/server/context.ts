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

/** What each context was built from, for {@link readingFrom}. */
const originOf = new WeakMap<RequestContext, { scope: RequestScope; shared: SharedLoaderState }>();

/**
 * The context of `scope` with its DataLoaders, created on first use: `{ __typename }` needs none, and a query routed
 * to a replica uses only those of its {@link readingFrom} copy.
 */
function withLoaders(scope: RequestScope, shared: SharedLoaderState): RequestContext {
  let loaders: Loaders | undefined;
  const context: RequestContext = {
    ...scope,
    get loaders() {
      return (loaders ??= createLoaders(scope, shared));
    },
  };
  originOf.set(context, { scope, shared });
  return context;
}

/**
 * The same request reading from `reader` (a replica) instead: same id, viewer and logger, its own loaders (the
 * original's stay unused, so the request can still run on the primary). The primary stays `primary`.
 */
export function readingFrom(context: RequestContext, reader: Database): RequestContext {
  const origin = originOf.get(context);
  if (origin) return withLoaders({ ...origin.scope, db: reader }, origin.shared);
  const { loaders: _unused, ...scope } = context;
  return withLoaders({ ...scope, db: reader }, { usageCache: new UsageCache<UsageFigures[]>({ ttlMs: 0 }) });
}
