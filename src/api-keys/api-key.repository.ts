import type { Database } from '../db/client';
import type { ApiKey as ApiKeyRow } from '../generated/prisma/client';
import type { Scope, TenantContext } from '../core/context';
import { generateApiKey } from './api-key.secret';

/** Creates an API key and returns it with the plaintext key, which is never stored and shown only now. */
export async function createApiKey(
  db: Database,
  input: { tenantId: string | null; name: string; scopes: readonly Scope[] },
): Promise<{ row: ApiKeyRow; key: string }> {
  const { key, keyHash, prefix } = generateApiKey();
  const row = await db.prisma.apiKey.create({
    data: { tenantId: input.tenantId, name: input.name, scopes: [...new Set(input.scopes)], keyHash, prefix },
  });
  return { row, key };
}

/** API keys, newest first; of one tenant when given (admin keys have no tenant). */
export function listApiKeys(db: Database, tenantId?: string): Promise<ApiKeyRow[]> {
  return db.prisma.apiKey.findMany({
    where: tenantId === undefined ? {} : { tenantId },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
}

/** Revokes the key with this id or display prefix; returns it, or null when none matches. */
export async function revokeApiKey(db: Database, idOrPrefix: string, now = new Date()): Promise<ApiKeyRow | null> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrPrefix);
  const matches = await db.prisma.apiKey.findMany({ where: isUuid ? { id: idOrPrefix } : { prefix: idOrPrefix }, take: 2 });
  if (matches.length !== 1) return null;
  const key = matches[0]!;
  if (key.revokedAt) return key;
  return db.prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: now } });
}

/** Creates a tenant if it does not exist yet. */
export function ensureTenant(db: Database, id: string, name: string) {
  return db.prisma.tenant.upsert({ where: { id }, create: { id, name }, update: {} });
}

/** The tenant the request acts for, or null when it does not exist (an admin key may name any id). */
export function findTenant(context: TenantContext): Promise<{ id: string; name: string } | null> {
  return context.db.prisma.tenant.findUnique({ where: { id: context.viewer.tenantId }, select: { id: true, name: true } });
}
