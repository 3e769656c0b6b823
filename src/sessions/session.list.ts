import { Prisma } from '../db/client';
import { equalsAnyOf } from '../db/sql';
import type { TenantContext } from '../core/context';
import { SessionOrderField, type SessionFilter, type SessionOrder } from './session.inputs';

/**
 * The sessions list, defined once: which sessions a filter selects (as SQL over the alias `s`), and the columns each
 * order sorts by (then by id, the keyset). The page, `totalCount`, `sessionStats`, `usage` and every later consumer
 * read sessions through this module, so they always agree. A new filter is a field of `SessionFilter` and a
 * condition here.
 */

/** The column each order sorts by: as the row (and so the cursor) names it, and as SQL names it (a column of `s`). */
export const SESSION_ORDER_COLUMNS = {
  [SessionOrderField.STARTED_AT]: { field: 'startedAt', sql: 'started_at' },
  [SessionOrderField.LAST_ACTIVITY_AT]: { field: 'lastActivityAt', sql: 'last_activity_at' },
} as const satisfies Record<SessionOrderField, { field: string; sql: string }>;

/** The column a session order sorts by, as a session row names it (for cursors). */
export function sessionOrderColumn(order: SessionOrder): 'startedAt' | 'lastActivityAt' {
  return SESSION_ORDER_COLUMNS[order.field].field;
}

/** The tenant's sessions that `filter` selects, over the alias `s`. */
export function sessionListWhere(context: TenantContext, filter: SessionFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`s.tenant_id = ${context.viewer.tenantId}`];
  // Compared as the enum, not as text, so the (tenant, status, …) indexes apply.
  if (filter?.status?.length) conditions.push(equalsAnyOf('s.status', filter.status, 'session_status'));
  if (filter?.channel?.length) conditions.push(Prisma.sql`s.channel = ANY(${filter.channel})`);
  if (filter?.sessionId != null) conditions.push(Prisma.sql`s.external_id = ${filter.sessionId}`);
  if (filter?.startedAfter) conditions.push(Prisma.sql`s.started_at >= ${filter.startedAfter}`);
  if (filter?.startedBefore) conditions.push(Prisma.sql`s.started_at < ${filter.startedBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`s.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`s.last_activity_at < ${filter.lastActivityBefore}`);
  return Prisma.join(conditions, ' AND ');
}
