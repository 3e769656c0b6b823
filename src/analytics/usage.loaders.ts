import type { RequestScope, TenantContext } from '../core/context';
import type { UsageCache } from './usage.cache';
import { usageBuckets, type UsageFigures, type UsageQuery } from './usage.repository';

/** The usage results of one request: read through the server's shared cache (see UsageCache). */
export function createUsageLoaders(_context: RequestScope, usageCache: UsageCache<UsageFigures[]>) {
  return {
    /** The tenant's usage buckets for `query`: a kept result, the one in flight, or one new statement. */
    usage: { load: (context: TenantContext, query: UsageQuery) => usageCache.get(context, query, () => usageBuckets(context, query)) },
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createUsageLoaders> {}
}
