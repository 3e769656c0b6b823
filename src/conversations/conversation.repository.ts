import { Prisma } from '../db/client';
import { dateOf, type JsonRow } from '../db/json-rows';
import { selectPageAsJson } from '../db/sql';
import type { Conversation as ConversationRow, ConversationStatus } from '../generated/prisma/client';
import type { KeysetPage } from '../graphql/connection';
import { OrderDirection } from '../graphql/order';
import type { TenantContext } from '../core/context';
import type { ConversationFilter, ConversationOrder } from './conversation.inputs';
import { conversationListWhere, conversationOrderColumn } from './conversation.list';

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
      c.last_checkpoint_id, c.total_tokens, c.metadata, c.models, c.tool_names`,
    where: conversationListWhere(context, filter),
    orderColumn: conversationOrderColumn(order).sql,
    orderType: conversationOrderColumn(order).type,
    descending: order.direction === OrderDirection.DESC,
    page,
    total: extras.total,
  });
  return { rows: rows.map(fromJsonConversation), total };
}

/** Number of the tenant's conversations matching the filter. */
export async function countConversations(context: TenantContext, filter: ConversationFilter | null | undefined): Promise<number> {
  const [row] = await context.db.prisma.$queryRaw<
    { count: number }[]
  >`SELECT count(*)::int AS count FROM conversations c WHERE ${conversationListWhere(context, filter)}`;
  return row!.count;
}

/** The tenant's conversations with these database keys, in any order. */
export function findConversationsByKeys(context: TenantContext, keys: readonly string[]): Promise<ConversationRow[]> {
  return context.db.prisma.conversation.findMany({ where: { tenantId: context.viewer.tenantId, id: { in: [...keys] } } });
}

/** The tenant's conversations of these LangGraph threads, in any order (another tenant's thread is not among them). */
export function findConversationsByThreadIds(context: TenantContext, threadIds: readonly string[]): Promise<ConversationRow[]> {
  return context.db.prisma.conversation.findMany({ where: { tenantId: context.viewer.tenantId, threadId: { in: [...threadIds] } } });
}

/** The tenant's conversation of this LangGraph thread, or null (also when the thread belongs to another tenant). */
export function findConversationByThreadId(context: TenantContext, threadId: string): Promise<ConversationRow | null> {
  return context.db.prisma.conversation.findFirst({ where: { tenantId: context.viewer.tenantId, threadId } });
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
  total_tokens: number;
  metadata: Prisma.JsonValue;
  models: string[] | null;
  tool_names: string[] | null;
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
    totalTokens: BigInt(row.total_tokens),
    metadata: row.metadata,
    models: row.models ?? [],
    toolNames: row.tool_names ?? [],
  };
}
