import { Prisma } from '../db/client';
import { selectPage } from '../db/sql';
import type { Conversation as ConversationRow, ConversationStatus } from '../generated/prisma/client';
import type { KeysetPage } from '../graphql/connection';
import { OrderDirection } from '../graphql/order';
import type { TenantContext } from '../core/context';
import type { ConversationFilter, ConversationOrder } from './conversation.inputs';
import { conversationListWhere, conversationOrderColumn, type ConversationListRow } from './conversation.list';
import { ConversationOrderField } from './conversation.inputs';

/** A page of conversations, with the total when asked for (else null). */
export interface ConversationPage {
  rows: ConversationListRow[];
  total: number | null;
}

/**
 * One page of the tenant's conversations in keyset order (`page.limit + 1` rows) and, when asked, the total, in ONE
 * statement. It reads the columns a Conversation shows, `metadata` only when asked for (JSONB to text is most of what
 * a page costs PostgreSQL, and a table rarely shows it).
 */
export async function listConversationPage(
  context: TenantContext,
  filter: ConversationFilter | null | undefined,
  order: ConversationOrder,
  page: KeysetPage,
  extras: { total: boolean; metadata: boolean },
): Promise<ConversationPage> {
  const column = conversationOrderColumn(order);
  const { rows, total } = await selectPage<RawConversationListRow>(context.db, {
    table: 'conversations',
    alias: 'c',
    // Tokens and cost as text: numbers and the exact decimal string without BigInt or Prisma.Decimal per row.
    columns: Prisma.sql`c.id, c.thread_id, c.title, c.status, c.created_at, c.last_activity_at, c.step_count,
      c.input_tokens::text AS input_tokens, c.output_tokens::text AS output_tokens, c.reasoning_tokens::text AS reasoning_tokens,
      c.cost_usd::text AS cost_usd, c.pending_interrupt, c.last_error,
      ${extras.metadata ? Prisma.sql`c.metadata` : Prisma.sql`NULL::jsonb AS metadata`}${
        order.field === ConversationOrderField.TOTAL_TOKENS ? Prisma.sql`, c.total_tokens` : Prisma.empty
      }`,
    where: conversationListWhere(context, filter),
    orderColumn: column.sql,
    orderType: column.type,
    descending: order.direction === OrderDirection.DESC,
    page,
    total: extras.total,
  });
  return { rows: rows.map(fromRawListRow), total };
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

interface RawConversationListRow {
  id: string;
  thread_id: string;
  title: string | null;
  status: ConversationStatus;
  created_at: Date;
  last_activity_at: Date;
  step_count: number;
  input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  pending_interrupt: unknown;
  last_error: unknown;
  metadata: unknown;
  /** bigint: node-postgres reads it as a string. Only when the list sorts by it. */
  total_tokens?: string;
}

function fromRawListRow(row: RawConversationListRow): ConversationListRow {
  return {
    id: row.id,
    threadId: row.thread_id,
    title: row.title,
    status: row.status,
    createdAt: row.created_at,
    lastActivityAt: row.last_activity_at,
    stepCount: row.step_count,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    reasoningTokens: Number(row.reasoning_tokens),
    costUsd: row.cost_usd,
    pendingInterrupt: row.pending_interrupt,
    lastError: row.last_error,
    metadata: row.metadata,
    totalTokens: row.total_tokens === undefined ? undefined : Number(row.total_tokens),
  };
}
