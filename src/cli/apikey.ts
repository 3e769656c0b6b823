import { createApiKey, ensureTenant, listApiKeys, revokeApiKey } from '../api-keys/api-key.repository';
import { SCOPES, type Scope } from '../core/context';
import { openSharedStore } from '../db/redis';
import { publishRevocation } from '../api-keys/api-key.revocations';
import { assertTenantExists, cliConfig, UsageError, withDatabase } from './cli-support';

/** Scopes from a comma-separated list, or `fallback` when none is given. */
export function parseScopes(text: string | undefined, fallback: Scope[]): Scope[] {
  if (!text) return fallback;
  const scopes = text.split(',').map((scope) => scope.trim());
  const unknown = scopes.filter((scope) => !SCOPES.includes(scope as Scope));
  if (unknown.length) throw new UsageError(`Unknown scope ${unknown.join(', ')}; expected some of ${SCOPES.join(', ')}.`);
  return scopes as Scope[];
}

/** `convoql apikey create`: a tenant key (creating the tenant with --new-tenant) or an admin key; prints the key once. */
export async function apikeyCreate(options: {
  tenant?: string;
  admin?: boolean;
  scopes?: string;
  name?: string;
  newTenant?: string;
}): Promise<void> {
  if (!options.admin && !options.tenant)
    throw new UsageError('Pass --tenant <id> for a tenant key, or --admin for a key that may act for any tenant.');
  if (options.admin && options.tenant) throw new UsageError('Pass either --tenant <id> or --admin, not both.');
  const tenantId = options.admin ? null : options.tenant!;
  const scopes = parseScopes(options.scopes, tenantId ? ['read'] : ['admin']);
  await withDatabase(cliConfig(), async ({ db }) => {
    if (tenantId) {
      if (options.newTenant) await ensureTenant(db, tenantId, options.newTenant);
      else await assertTenantExists(db, tenantId, '--tenant');
    }
    const { row, key } = await createApiKey(db, { tenantId, name: options.name ?? 'unnamed', scopes });
    console.log(`Created ${tenantId ? `a key for tenant ${tenantId}` : 'an admin key'} (id ${row.id}, scopes ${row.scopes.join(',')}).`);
    console.log('Store it now; it cannot be shown again:');
    console.log(key);
  });
}

/** `convoql apikey list`: every key (of one tenant with --tenant), newest first, never the key itself. */
export async function apikeyList(options: { tenant?: string }): Promise<void> {
  await withDatabase(cliConfig(), async ({ db }) => {
    const keys = await listApiKeys(db, options.tenant);
    for (const key of keys) {
      const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : `last used ${key.lastUsedAt?.toISOString() ?? 'never'}`;
      console.log(`${key.id}  ${key.prefix}…  ${key.tenantId ?? '(admin)'}  ${key.scopes.join(',')}  "${key.name}"  ${state}`);
    }
    if (keys.length === 0) console.log('No API keys.');
  });
}

/**
 * `convoql apikey revoke <id or prefix>`. With REDIS_URL the revocation is announced to every server process sharing
 * that Redis, which refuse the key at once; otherwise (or when Redis does not answer) each within its 30 s key cache.
 */
export async function apikeyRevoke(idOrPrefix: string): Promise<void> {
  const config = cliConfig();
  await withDatabase(config, async ({ db }, logger) => {
    const key = await revokeApiKey(db, idOrPrefix);
    if (!key) throw new UsageError(`No single key matches "${idOrPrefix}"; use the id shown by \`npx convoql apikey list\`.`);
    // Announced even when the key was revoked before: a server that missed the first announcement hears this one.
    const store = await openSharedStore(config, logger.child({}, { level: 'error' }));
    const told = store ? await publishRevocation(store, key.id) : undefined;
    await store?.close();
    if (told !== undefined) console.log(`Revoked ${key.id} (${key.prefix}…). Servers sharing Redis stop accepting it now (${told} told).`);
    else {
      if (store) console.log('Redis (REDIS_URL) did not answer, so the servers were not told.');
      console.log(`Revoked ${key.id} (${key.prefix}…). Servers stop accepting it within 30 seconds.`);
    }
  });
}
