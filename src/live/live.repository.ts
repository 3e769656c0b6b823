import { Prisma } from '../db/client';
import type { TenantContext } from '../core/context';
import { conversationListWhere } from '../conversations/conversation.list';
import type { ConversationFilter } from '../conversations/conversation.inputs';
import { sessionFilterConditions } from '../sessions/session.list';
import type { SessionFilter } from '../sessions/session.inputs';

/** Most filters tested in one statement; more are tested in further statements. */
const FILTERS_PER_STATEMENT = 100;

/**
 * Which of the tenant's sessions `keys` each filter selects, by the sessions list's one definition (session.list.ts):
 * for each key that is one of the tenant's sessions, a boolean per filter, in the order of `filters`. One statement for
 * up to 100 filters, whatever the number of sessions; keys of other tenants' sessions are absent from the result.
 */
export async function matchSessionFilters(
  context: TenantContext,
  keys: readonly string[],
  filters: readonly (SessionFilter | null)[],
): Promise<Map<string, boolean[]>> {
  const matches = new Map<string, boolean[]>();
  for (let start = 0; start < filters.length; start += FILTERS_PER_STATEMENT) {
    const chunk = filters.slice(start, start + FILTERS_PER_STATEMENT);
    const columns = chunk.map((filter) => {
      const conditions = sessionFilterConditions(context, filter);
      return conditions.length === 0 ? Prisma.sql`true` : Prisma.sql`(${Prisma.join(conditions, ' AND ')})`;
    });
    const rows = await context.db.queryRows<{ id: string; matches: boolean[] }>(Prisma.sql`
      SELECT s.id, ARRAY[${Prisma.join(columns)}]::boolean[] AS matches
      FROM sessions s
      WHERE s.tenant_id = ${context.viewer.tenantId} AND s.id = ANY(${[...keys]}::uuid[])`);
    for (const row of rows) matches.set(row.id, [...(matches.get(row.id) ?? []), ...row.matches.map((value) => value === true)]);
  }
  return matches;
}

/**
 * Which of the tenant's conversations `keys` each filter selects, by the conversations list's one definition
 * (conversation.list.ts), as {@link matchSessionFilters} does for sessions: one statement per 100 filters; keys of other
 * tenants' conversations are absent from the result.
 */
export async function matchConversationFilters(
  context: TenantContext,
  keys: readonly string[],
  filters: readonly (ConversationFilter | null)[],
): Promise<Map<string, boolean[]>> {
  const matches = new Map<string, boolean[]>();
  for (let start = 0; start < filters.length; start += FILTERS_PER_STATEMENT) {
    const columns = filters
      .slice(start, start + FILTERS_PER_STATEMENT)
      .map((filter) => Prisma.sql`(${conversationListWhere(context, filter)})`);
    const rows = await context.db.queryRows<{ id: string; matches: boolean[] }>(Prisma.sql`
      SELECT c.id, ARRAY[${Prisma.join(columns)}]::boolean[] AS matches
      FROM conversations c
      WHERE c.tenant_id = ${context.viewer.tenantId} AND c.id = ANY(${[...keys]}::uuid[])`);
    for (const row of rows) matches.set(row.id, [...(matches.get(row.id) ?? []), ...row.matches.map((value) => value === true)]);
  }
  return matches;
}
