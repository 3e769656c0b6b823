import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import type { LoaderMetrics, RequestContext, RequestScope, Viewer } from '../core/context';
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
  const shared = { usageCache: options.usageCache ?? new UsageCache({ ttlMs: 0 }) };
  const context = { ...scope, loaders: createLoaders(scope, shared) };
  sharedStateOf.set(context, shared);
  return context;
}

const sharedStateOf = new WeakMap<RequestContext, SharedLoaderState>();

/**
 * The same request reading from `reader` (a replica) instead: same id, viewer and logger, fresh loaders (the original's
 * stay unused, so the request can still run on the primary). The primary stays `primary`.
 */
export function readingFrom(context: RequestContext, reader: Database): RequestContext {
  const { loaders: _unused, ...rest } = context;
  const scope: RequestScope = { ...rest, db: reader };
  const shared = sharedStateOf.get(context) ?? { usageCache: new UsageCache<UsageFigures[]>({ ttlMs: 0 }) };
  const routed = { ...scope, loaders: createLoaders(scope, shared) };
  sharedStateOf.set(routed, shared);
  return routed;
}
