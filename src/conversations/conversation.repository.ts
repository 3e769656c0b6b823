import type { Prisma } from '../db/client';
import type { Conversation as ConversationRow } from '../generated/prisma/client';
import { keysetOrderBy, keysetWhere, type KeysetPage } from '../graphql/connection';
import { OrderDirection } from '../graphql/order';
import type { TenantContext } from '../server/context';
import { ConversationOrderField, type ConversationFilter, type ConversationOrder } from './conversation.inputs';

const ORDER_COLUMNS = {
  [ConversationOrderField.LAST_ACTIVITY_AT]: 'lastActivityAt',
  [ConversationOrderField.CREATED_AT]: 'createdAt',
} as const;

/** The Prisma column a conversation order sorts by. */
export function conversationOrderColumn(order: ConversationOrder): 'lastActivityAt' | 'createdAt' {
  return ORDER_COLUMNS[order.field];
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

/** One page of the tenant's conversations in keyset order (`page.limit + 1` rows). */
export function listConversations(
  context: TenantContext,
  filter: ConversationFilter | null | undefined,
  order: ConversationOrder,
  page: KeysetPage,
): Promise<ConversationRow[]> {
  const column = conversationOrderColumn(order);
  const descending = order.direction === OrderDirection.DESC;
  return context.db.prisma.conversation.findMany({
    where: { ...conversationWhere(context, filter), ...keysetWhere(column, descending, page, (value) => new Date(value)) },
    orderBy: keysetOrderBy(column, descending, page),
    take: page.limit + 1,
  });
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
