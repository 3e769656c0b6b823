import { Prisma } from '../db/client';
import type { TenantContext } from '../core/context';
import type { Message as MessageRow } from '../generated/prisma/client';
import type { MessageRole } from './message.type';

/**
 * A session's messages list, defined once: which messages it holds (as SQL over the alias `m`), oldest first by
 * `created_at`, then by id (the keyset). The page and the counts read messages through this module.
 */

/** The column the list sorts by (a column of `m`); it is never read newest first. */
export const MESSAGE_ORDER_COLUMN = 'created_at';

/** A message's position in the order (its `created_at` in ms), for pages served from messages already loaded. */
export function messageKeysetValue(row: MessageRow): number {
  return row.createdAt.getTime();
}

/**
 * The tenant's messages of one session, of one role when given, over the alias `m`; `session` is the session's key as
 * SQL (a parameter, or a column of a join that pages many sessions at once).
 */
export function messageListWhere(context: TenantContext, session: Prisma.Sql, role: MessageRole | null | undefined): Prisma.Sql {
  return Prisma.sql`m.tenant_id = ${context.viewer.tenantId} AND m.session_id = ${session}${
    role ? Prisma.sql` AND m.role = ${role}::message_role` : Prisma.empty
  }`;
}
