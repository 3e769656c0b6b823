import { Prisma } from '../db/client';
import { equalsAnyOf, plannedPerValues, type KeysetColumnType } from '../db/sql';
import type { TenantContext } from '../core/context';
import { DECIMAL_AND_UUID, INTEGER_AND_UUID, TIMESTAMP_AND_UUID, type CursorShape } from '../graphql/connection';
import { ConversationOrderField, type ConversationFilter, type ConversationOrder } from './conversation.inputs';
import type { ConversationFields } from './conversation.type';

/**
 * The conversations list, defined once: which conversations a filter selects (as SQL over the alias `c`), and the
 * columns each order sorts by (then by id, the keyset). The page and `totalCount` read conversations through this
 * module. A new filter is a field of `ConversationFilter` and a condition here.
 */

/** A row of a conversations page: what a Conversation shows, and the total tokens when the list sorts by them. */
export interface ConversationListRow extends ConversationFields {
  totalTokens?: number;
}

/** How a list sorts by one column: its SQL name (a column of `c`) and type, and its cursors' sort value. */
export interface ConversationOrderColumn {
  sql: string;
  type: KeysetColumnType;
  /** What a cursor's sort value must be; a cursor holding anything else is refused before SQL. */
  cursor: CursorShape;
  /** A row's sort value as its cursor carries it: exact (a decimal as its string, a timestamp as ISO-8601). */
  valueOf(row: ConversationListRow): string | number;
}

/** The column each order sorts by. */
export const CONVERSATION_ORDER_COLUMNS: Record<ConversationOrderField, ConversationOrderColumn> = {
  [ConversationOrderField.LAST_ACTIVITY_AT]: {
    sql: 'last_activity_at',
    type: 'timestamptz',
    cursor: TIMESTAMP_AND_UUID,
    valueOf: (row) => row.lastActivityAt.toISOString(),
  },
  [ConversationOrderField.CREATED_AT]: {
    sql: 'created_at',
    type: 'timestamptz',
    cursor: TIMESTAMP_AND_UUID,
    valueOf: (row) => row.createdAt.toISOString(),
  },
  // numeric(18, 8): its text (8 decimals) is exact, a JSON number would pass through floating point.
  [ConversationOrderField.COST_USD]: { sql: 'cost_usd', type: 'numeric', cursor: DECIMAL_AND_UUID, valueOf: (row) => row.costUsd },
  // bigint, within JavaScript's safe integers as `tokenUsage.total` (SafeInt) is.
  [ConversationOrderField.TOTAL_TOKENS]: {
    sql: 'total_tokens',
    type: 'bigint',
    cursor: INTEGER_AND_UUID,
    valueOf: (row) => row.totalTokens!,
  },
  [ConversationOrderField.STEP_COUNT]: { sql: 'step_count', type: 'integer', cursor: INTEGER_AND_UUID, valueOf: (row) => row.stepCount },
};

/** The column a conversation order sorts by. */
export function conversationOrderColumn(order: ConversationOrder): ConversationOrderColumn {
  return CONVERSATION_ORDER_COLUMNS[order.field];
}

/** The tenant's conversations that `filter` selects, over the alias `c`. */
export function conversationListWhere(context: TenantContext, filter: ConversationFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`c.tenant_id = ${context.viewer.tenantId}`];
  if (filter?.status?.length) conditions.push(equalsAnyOf('c.status', filter.status, 'conversation_status'));
  if (filter?.createdAfter) conditions.push(Prisma.sql`c.created_at >= ${filter.createdAfter}`);
  if (filter?.createdBefore) conditions.push(Prisma.sql`c.created_at < ${filter.createdBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`c.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`c.last_activity_at < ${filter.lastActivityBefore}`);
  if (filter?.metadata != null) conditions.push(plannedPerValues(Prisma.sql`c.metadata @> ${JSON.stringify(filter.metadata)}::jsonb`));
  if (filter?.text != null && filter.text.trim() !== '') {
    // websearch_to_tsquery accepts any text; a query of no words (only punctuation) matches nothing. The configuration
    // is written into the statement (an identifier checked by src/config.ts), not passed as a parameter: a parameter
    // cast to regconfig is not a constant when the statement is planned, so the planner could not estimate the GIN
    // index's selectivity and preferred reading every search step.
    const config = Prisma.raw(`'${context.config.search.textSearchConfig}'::regconfig`);
    conditions.push(
      plannedPerValues(Prisma.sql`EXISTS (SELECT 1 FROM conversation_search_steps t
        WHERE t.conversation_id = c.id
          AND t.tsv @@ websearch_to_tsquery(${config}, ${filter.text}))`),
    );
  }
  if (filter?.model?.length) conditions.push(plannedPerValues(Prisma.sql`c.models && ${filter.model}::text[]`));
  if (filter?.toolName?.length) conditions.push(plannedPerValues(Prisma.sql`c.tool_names && ${filter.toolName}::text[]`));
  if (filter?.costUsd?.min != null) conditions.push(Prisma.sql`c.cost_usd >= ${filter.costUsd.min}::numeric`);
  if (filter?.costUsd?.max != null) conditions.push(Prisma.sql`c.cost_usd <= ${filter.costUsd.max}::numeric`);
  if (filter?.totalTokens?.min != null) conditions.push(Prisma.sql`c.total_tokens >= ${filter.totalTokens.min}::bigint`);
  if (filter?.totalTokens?.max != null) conditions.push(Prisma.sql`c.total_tokens <= ${filter.totalTokens.max}::bigint`);
  // Threads that served a chat session on one of these channels (sessions name their thread: sessions.thread_id).
  if (filter?.channel?.length) {
    conditions.push(Prisma.sql`EXISTS (SELECT 1 FROM sessions s
      WHERE s.tenant_id = c.tenant_id AND s.thread_id = c.thread_id AND s.channel = ANY(${filter.channel}::text[]))`);
  }
  return Prisma.join(conditions, ' AND ');
}
