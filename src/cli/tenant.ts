import { createTenant, listTenants } from '../api-keys/tenant.repository';
import { cliConfig, UsageError, withDatabase } from './cli-support';

/** What a tenant id may be: it is sent in x-tenant-id headers and typed on command lines. */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `convoql tenant create <id> [--name]`: fails when the tenant exists. */
export async function tenantCreate(id: string, options: { name?: string }): Promise<void> {
  if (!TENANT_ID.test(id)) {
    throw new UsageError(
      `Expected a tenant id of lower-case letters, digits, "-" and "_" (at most 63, starting with a letter or digit), received "${id}".`,
    );
  }
  await withDatabase(cliConfig(), async ({ db }) => {
    const created = await createTenant(db, id, options.name ?? id);
    if (!created) throw new UsageError(`Tenant "${id}" exists already (\`npx convoql tenant list\`).`);
    console.log(
      `Created tenant ${created.id} ("${created.name}"). Give it a key: npx convoql apikey create --tenant ${created.id} --scopes read,write`,
    );
  });
}

/** `convoql tenant list`: every tenant with its number of sessions and active keys. */
export async function tenantList(options: { json?: boolean }): Promise<void> {
  await withDatabase(cliConfig(), async ({ db }) => {
    const tenants = await listTenants(db);
    if (options.json) {
      console.log(JSON.stringify(tenants.map((tenant) => ({ ...tenant, createdAt: tenant.createdAt.toISOString() }))));
      return;
    }
    for (const tenant of tenants) {
      console.log(
        `${tenant.id}  "${tenant.name}"  ${tenant.sessions} sessions  ${tenant.activeKeys} active keys  created ${tenant.createdAt.toISOString()}`,
      );
    }
    if (tenants.length === 0) console.log('No tenants. Create one: npx convoql tenant create <id> --name "<display name>"');
  });
}
