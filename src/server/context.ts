import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import type { LoaderMetrics, RequestContext, RequestScope, Viewer } from '../core/context';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { createLoaders } from './loaders';

/** Builds the per-request context: request id, viewer, child logger and fresh DataLoaders; process-wide objects are passed in. */
export function createRequestContext(options: {
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
    config: options.config,
    logger: options.logger.child({ requestId, tenant: options.viewer?.tenantId ?? undefined }),
    metrics: options.metrics ?? null,
  };
  return { ...scope, loaders: createLoaders(scope, { usageCache: options.usageCache ?? new UsageCache({ ttlMs: 0 }) }) };
}
