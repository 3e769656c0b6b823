import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import type { Database } from '../db/client';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Viewer } from './auth';
import { createLoaders, type Loaders } from './loaders';
import { UnauthenticatedError } from '../graphql/errors';

/** Everything a resolver may use for one request; built once per request by `createRequestContext`. */
export interface RequestContext {
  readonly requestId: string;
  /** Who is asking, or null when no API key was sent. */
  readonly viewer: Viewer | null;
  readonly db: Database;
  readonly config: Config;
  readonly logger: Logger;
  /** The server's metrics, or null outside a server (CLI, some tests). */
  readonly metrics: Metrics | null;
  readonly loaders: Loaders;
  /** The server's usage results shared between requests; outside a server, one for this request only. */
  readonly usageCache: UsageCache<UsageFigures[]>;
}

/** A request context known to act for one tenant; the first argument of every repository function. */
export interface TenantContext extends RequestContext {
  readonly viewer: Viewer & { readonly tenantId: string };
}

/** Builds the per-request context: request id, viewer, child logger and fresh DataLoaders; process-wide objects are passed in. */
export function createRequestContext(options: {
  db: Database;
  config: Config;
  logger: Logger;
  viewer: Viewer | null;
  metrics?: Metrics | null;
  usageCache?: UsageCache<UsageFigures[]>;
  requestId?: string;
}): RequestContext {
  const requestId = options.requestId ?? randomUUID();
  const context: { -readonly [K in keyof RequestContext]: RequestContext[K] } = {
    requestId,
    viewer: options.viewer,
    db: options.db,
    config: options.config,
    logger: options.logger.child({ requestId, tenant: options.viewer?.tenantId ?? undefined }),
    metrics: options.metrics ?? null,
    usageCache: options.usageCache ?? new UsageCache({ ttlMs: 0 }),
    loaders: undefined as unknown as Loaders,
  };
  context.loaders = createLoaders(context);
  return context;
}

/** Narrows a context to one acting for a tenant; the auth checker guarantees this for @Authorized fields. */
export function asTenantContext(context: RequestContext): TenantContext {
  if (!context.viewer?.tenantId) throw new UnauthenticatedError();
  return context as TenantContext;
}
