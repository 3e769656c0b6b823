import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { UnauthenticatedError } from '../graphql/errors';

/** What an API key may do: `read` queries, `write` mutations, `admin` everything including key management. */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** The authenticated caller of a request. */
export interface Viewer {
  readonly apiKeyId: string;
  readonly apiKeyName: string;
  readonly scopes: ReadonlySet<Scope>;
  /** The tenant this request acts for: the key's own, or the one an admin key named in x-tenant-id. */
  readonly tenantId: string | null;
  /** True for a key that belongs to no tenant and may act for any. */
  readonly isAdminKey: boolean;
}

/**
 * The per-request DataLoaders, by feature. Empty here: each feature adds its own in its `*.loaders.ts`
 * (`declare module '../core/context' { interface Loaders extends … }`), and the composition root
 * (`src/server/loaders.ts`) creates them, so this module imports no feature.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by each feature (see above)
export interface Loaders {}

/** What the loaders report per batch; the server's metrics satisfy it, and it is null outside a server. */
export interface LoaderMetrics {
  readonly dataLoaderBatchSize: { observe(labels: { loader: string }, keys: number): void };
}

/** What one request acts as and with: who asks, the database, configuration, logger; what repositories and loaders need. */
export interface RequestScope {
  readonly requestId: string;
  /** Who is asking, or null when no API key was sent. */
  readonly viewer: Viewer | null;
  /**
   * The database this request reads from: a read replica for a query when DATABASE_READ_URL is set (chosen once per
   * operation by the composition root, src/server/read-routing.ts), else the primary. A query's data may lag the
   * primary's by the replica's lag.
   */
  readonly db: Database;
  /**
   * The primary: the same as `db` except for a query routed to a replica. For the writes a read needs (replay indexes
   * a namespace on demand) and the reads that must see them.
   */
  readonly primary: Database;
  readonly config: Config;
  readonly logger: Logger;
  /** The server's metrics, or null outside a server (CLI, some tests). */
  readonly metrics: LoaderMetrics | null;
}

/** Everything a resolver may use for one request; built once per request by the composition root. */
export interface RequestContext extends RequestScope {
  readonly loaders: Loaders;
}

/** A request known to act for one tenant; the first argument of every repository function. */
export interface TenantContext extends RequestScope {
  readonly viewer: Viewer & { readonly tenantId: string };
}

/** Narrows a context to one acting for a tenant; the auth checker guarantees this for @Authorized fields. */
export function asTenantContext<TContext extends RequestScope>(context: TContext): TContext & TenantContext {
  if (!context.viewer?.tenantId) throw new UnauthenticatedError();
  return context as TContext & TenantContext;
}
