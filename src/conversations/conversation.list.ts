import { Prisma } from '../db/client';
import { equalsAnyOf } from '../db/sql';
import type { TenantContext } from '../core/context';
import { ConversationOrderField, type ConversationFilter, type ConversationOrder } from './conversation.inputs';

/**
 * The conversations list, defined once: which conversations a filter selects (as SQL over the alias `c`), and the
 * columns each order sorts by (then by id, the keyset). The page and `totalCount` read conversations through this
 * module. A new filter is a field of `ConversationFilter` and a condition here.
 */

/** The column each order sorts by: as the row (and so the cursor) names it, and as SQL names it (a column of `c`). */
export const CONVERSATION_ORDER_COLUMNS = {
  [ConversationOrderField.LAST_ACTIVITY_AT]: { field: 'lastActivityAt', sql: 'last_activity_at' },
  [ConversationOrderField.CREATED_AT]: { field: 'createdAt', sql: 'created_at' },
} as const satisfies Record<ConversationOrderField, { field: string; sql: string }>;

/** The column a conversation order sorts by, as a conversation row names it (for cursors). */
export function conversationOrderColumn(order: ConversationOrder): 'lastActivityAt' | 'createdAt' {
  return CONVERSATION_ORDER_COLUMNS[order.field].field;
}

/** The tenant's conversations that `filter` selects, over the alias `c`. */
export function conversationListWhere(context: TenantContext, filter: ConversationFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`c.tenant_id = ${context.viewer.tenantId}`];
  if (filter?.status?.length) conditions.push(equalsAnyOf('c.status', filter.status, 'conversation_status'));
  if (filter?.createdAfter) conditions.push(Prisma.sql`c.created_at >= ${filter.createdAfter}`);
  if (filter?.createdBefore) conditions.push(Prisma.sql`c.created_at < ${filter.createdBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`c.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`c.last_activity_at < ${filter.lastActivityBefore}`);
  return Prisma.join(conditions, ' AND ');
}
