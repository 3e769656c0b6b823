import { Prisma } from '../db/client';
import { dateOf, type JsonRow } from '../db/json-rows';
import { equalsAnyOf, selectPageAsJson } from '../db/sql';
import type { Conversation as ConversationRow, ConversationStatus } from '../generated/prisma/client';
import type { KeysetPage } from '../graphql/connection';
import { OrderDirection } from '../graphql/order';
import type { TenantContext } from '../server/context';
import { ConversationOrderField, type ConversationFilter, type ConversationOrder } from './conversation.inputs';

/** The column a conversation order sorts by, as Prisma and as SQL name it. */
const ORDER_COLUMNS = {
  [ConversationOrderField.LAST_ACTIVITY_AT]: { field: 'lastActivityAt', sql: 'last_activity_at' },
  [ConversationOrderField.CREATED_AT]: { field: 'createdAt', sql: 'created_at' },
} as const;

/** The Prisma column a conversation order sorts by. */
export function conversationOrderColumn(order: ConversationOrder): 'lastActivityAt' | 'createdAt' {
  return ORDER_COLUMNS[order.field].field;
}

function conversationWhere(context: TenantContext, filter: ConversationFilter | null | undefined): Prisma.ConversationWhereInput {
  return {
    tenantId: context.viewer.tenantId,
    ...(filter?.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter?.createdAfter || filter?.createdBefore
      ? { createdAt: { gte: filter.createdAfter ?? undefined, lt: filter.createdBefore ?? undefined } }
      : {}),
    ...(filter?.lastActivityAfter || filter?.lastActivityBefore
      ? { lastActivityAt: { gte: filter.lastActivityAfter ?? undefined, lt: filter.lastActivityBefore ?? undefined } }
      : {}),
  };
}

/** A page of conversations, with the total when asked for (else null). */
export interface ConversationPage {
  rows: ConversationRow[];
  total: number | null;
}

/**
 * One page of the tenant's conversations in keyset order (`page.limit + 1` rows) and, when asked, the total, in ONE
 * statement, with the rows as one JSON value (see JsonRow).
 */
export async function listConversationPage(
  context: TenantContext,
  filter: ConversationFilter | null | undefined,
  order: ConversationOrder,
  page: KeysetPage,
  extras: { total: boolean },
): Promise<ConversationPage> {
  const { rows, total } = await selectPageAsJson<RawConversation>(context.db, {
    table: 'conversations',
    alias: 'c',
    // cost_usd as text: a JSON number would pass through floating point.
    columns: Prisma.sql`c.id, c.tenant_id, c.thread_id, c.title, c.status, c.created_at, c.last_activity_at, c.step_count,
      c.input_tokens, c.output_tokens, c.reasoning_tokens, c.cost_usd::text AS cost_usd, c.pending_interrupt, c.last_error,
      c.last_checkpoint_id`,
    where: Prisma.sql`c.tenant_id = ${context.viewer.tenantId} AND ${conversationFilterSql(filter)}`,
    orderColumn: ORDER_COLUMNS[order.field].sql,
    descending: order.direction === OrderDirection.DESC,
    page,
    total: extras.total,
  });
  return { rows: rows.map(fromJsonConversation), total };
}

/** Number of the tenant's conversations matching the filter. */
export function countConversations(context: TenantContext, filter: ConversationFilter | null | undefined): Promise<number> {
  return context.db.prisma.conversation.count({ where: conversationWhere(context, filter) });
}

/** The tenant's conversations with these database keys, in any order. */
export function findConversationsByKeys(context: TenantContext, keys: readonly string[]): Promise<ConversationRow[]> {
  return context.db.prisma.conversation.findMany({ where: { tenantId: context.viewer.tenantId, id: { in: [...keys] } } });
}

/** The tenant's conversation of this LangGraph thread, or null (also when the thread belongs to another tenant). */
export function findConversationByThreadId(context: TenantContext, threadId: string): Promise<ConversationRow | null> {
  return context.db.prisma.conversation.findFirst({ where: { tenantId: context.viewer.tenantId, threadId } });
}

/** The same conditions as `conversationWhere`, over the alias `c`, for raw statements. */
function conversationFilterSql(filter: ConversationFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
  if (filter?.status?.length) conditions.push(equalsAnyOf('c.status', filter.status, 'conversation_status'));
  if (filter?.createdAfter) conditions.push(Prisma.sql`c.created_at >= ${filter.createdAfter}`);
  if (filter?.createdBefore) conditions.push(Prisma.sql`c.created_at < ${filter.createdBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`c.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`c.last_activity_at < ${filter.lastActivityBefore}`);
  return Prisma.join(conditions, ' AND ');
}

interface RawConversation {
  id: string;
  tenant_id: string;
  thread_id: string;
  title: string | null;
  status: ConversationStatus;
  created_at: Date;
  last_activity_at: Date;
  step_count: number;
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: string;
  pending_interrupt: Prisma.JsonValue;
  last_error: Prisma.JsonValue;
  last_checkpoint_id: string | null;
}

function fromJsonConversation(row: JsonRow<RawConversation>): ConversationRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    threadId: row.thread_id,
    title: row.title,
    status: row.status,
    createdAt: dateOf(row.created_at),
    lastActivityAt: dateOf(row.last_activity_at),
    stepCount: row.step_count,
    inputTokens: BigInt(row.input_tokens),
    outputTokens: BigInt(row.output_tokens),
    reasoningTokens: BigInt(row.reasoning_tokens),
    costUsd: new Prisma.Decimal(row.cost_usd),
    pendingInterrupt: row.pending_interrupt,
    lastError: row.last_error,
    lastCheckpointId: row.last_checkpoint_id,
  };
}
