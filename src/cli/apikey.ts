import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createApiKey, ensureTenant, listApiKeys, revokeApiKey } from '../api-keys/api-key.repository';
import { ConfigError, loadConfig } from '../config';
import { openDatabase, StartupError } from '../db/open';
import { SCOPES, type Scope } from '../core/context';
import { createLogger } from '../logger';

const USAGE = `usage:
  npm run apikey -- create --tenant <slug> [--scopes read,write] [--name <name>] [--new-tenant <display name>]
  npm run apikey -- create --admin [--scopes admin] [--name <name>]
  npm run apikey -- list [--tenant <slug>]
  npm run apikey -- revoke <key id or prefix>`;

class UsageError extends Error {}

function parseScopes(text: string | undefined, fallback: Scope[]): Scope[] {
  if (!text) return fallback;
  const scopes = text.split(',').map((scope) => scope.trim());
  const unknown = scopes.filter((scope) => !SCOPES.includes(scope as Scope));
  if (unknown.length) throw new UsageError(`Unknown scope ${unknown.join(', ')}; expected some of ${SCOPES.join(', ')}.`);
  return scopes as Scope[];
}

/** Creates, lists and revokes API keys on the configured database (DATABASE_URL or the embedded one). */
async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean' },
      'new-tenant': { type: 'string' },
    },
  });
  const [command, argument] = positionals;
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new UsageError(USAGE);
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const database = await openDatabase(config, createLogger(config));
  const { db } = database;
  try {
    if (command === 'create') {
      if (!values.admin && !values.tenant)
        throw new UsageError('Pass --tenant <slug> for a tenant key, or --admin for a key that may act for any tenant.');
      const tenantId = values.admin ? null : values.tenant!;
      if (tenantId) {
        if (values['new-tenant']) await ensureTenant(db, tenantId, values['new-tenant']);
        else if (!(await db.prisma.tenant.findUnique({ where: { id: tenantId } }))) {
          throw new UsageError(`No tenant "${tenantId}". Add --new-tenant "<display name>" to create it.`);
        }
      }
      const scopes = parseScopes(values.scopes, tenantId ? ['read'] : ['admin']);
      const { row, key } = await createApiKey(db, { tenantId, name: values.name ?? 'unnamed', scopes });
      console.log(`Created ${tenantId ? `a key for tenant ${tenantId}` : 'an admin key'} (id ${row.id}, scopes ${row.scopes.join(',')}).`);
      console.log('Store it now; it cannot be shown again:');
      console.log(key);
    } else if (command === 'list') {
      const keys = await listApiKeys(db, values.tenant);
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : `last used ${key.lastUsedAt?.toISOString() ?? 'never'}`;
        console.log(`${key.id}  ${key.prefix}…  ${key.tenantId ?? '(admin)'}  ${key.scopes.join(',')}  "${key.name}"  ${state}`);
      }
      if (keys.length === 0) console.log('No API keys.');
    } else {
      if (!argument) throw new UsageError('Pass the id or the prefix of the key to revoke.');
      const key = await revokeApiKey(db, argument);
      if (!key) throw new UsageError(`No single key matches "${argument}"; use the id shown by \`npm run apikey -- list\`.`);
      console.log(`Revoked ${key.id} (${key.prefix}…). Servers stop accepting it within 30 seconds.`);
    }
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  const known = error instanceof UsageError || error instanceof ConfigError || error instanceof StartupError;
  console.error(known ? (error as Error).message : `apikey: ${(error as Error).message}`);
  process.exit(1);
});
