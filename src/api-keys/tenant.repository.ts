import type { Database } from '../db/client';

/** A tenant as an operator lists it. */
export interface TenantSummary {
  id: string;
  name: string;
  createdAt: Date;
  sessions: number;
  activeKeys: number;
}

/** Creates a tenant; returns null when one with this id exists (nothing is changed then). */
export async function createTenant(db: Database, id: string, name: string): Promise<{ id: string; name: string } | null> {
  const rows = await db.prisma.$queryRaw<{ id: string; name: string }[]>`
    INSERT INTO tenants (id, name) VALUES (${id}, ${name}) ON CONFLICT (id) DO NOTHING RETURNING id, name`;
  return rows[0] ?? null;
}

/** Every tenant by id, with its number of sessions and of keys not revoked (an operator's view, not a tenant's). */
export function listTenants(db: Database): Promise<TenantSummary[]> {
  return db.prisma.$queryRaw<TenantSummary[]>`
    SELECT t.id, t.name, t.created_at AS "createdAt",
           (SELECT COUNT(*)::int FROM sessions s WHERE s.tenant_id = t.id) AS sessions,
           (SELECT COUNT(*)::int FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL) AS "activeKeys"
      FROM tenants t
     ORDER BY t.id`;
}
