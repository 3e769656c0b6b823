import { Ctx, Query, Resolver } from 'type-graphql';
import { asTenantContext, type RequestContext } from '../core/context';
import { UnauthenticatedError } from '../graphql/errors';
import { findTenant } from './api-key.repository';
import { ApiKeyScope, Viewer } from './viewer.type';

/** `viewer`: who the request acts as, so a dashboard can show it (GitHub's convention). */
@Resolver()
export class ViewerResolver {
  @Query(() => Viewer, {
    description: 'Who this request acts as: its tenant and API key. Any valid key may ask, whatever its scopes.',
  })
  async viewer(@Ctx() context: RequestContext): Promise<Viewer> {
    const viewer = context.viewer;
    if (!viewer) throw new UnauthenticatedError();
    const tenant = viewer.tenantId ? await findTenant(asTenantContext(context)) : null;
    return {
      tenant: tenant && { id: tenant.id, name: tenant.name },
      key: {
        name: viewer.apiKeyName,
        scopes: Object.values(ApiKeyScope).filter((scope) => viewer.scopes.has(scope)),
        isAdmin: viewer.isAdminKey,
      },
    };
  }
}
