import type { AuthChecker } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../graphql/errors';
import type { RequestContext, Scope } from './context';

/** Throws unless the viewer holds every scope (admin holds all) and, for tenant data, acts for a tenant. */
export function assertAuthorized(context: RequestContext, required: readonly Scope[]): void {
  const viewer = context.viewer;
  if (!viewer) throw new UnauthenticatedError();
  for (const scope of required) {
    if (!viewer.scopes.has(scope) && !viewer.scopes.has('admin')) {
      throw new ForbiddenError(
        `This needs an API key with the "${scope}" scope; this key has: ${[...viewer.scopes].join(', ') || 'none'}.`,
      );
    }
  }
  if (!required.includes('admin') && viewer.tenantId === null) {
    throw new ForbiddenError('An admin API key must name the tenant to act for in the x-tenant-id header.');
  }
}

/** type-graphql auth checker: `@Authorized('read' | 'write' | 'admin')`; tenant data needs a tenant. */
export const authChecker: AuthChecker<RequestContext, Scope> = ({ context }, required) => {
  assertAuthorized(context, required);
  return true;
};
