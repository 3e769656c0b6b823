import type { Conversation as ConversationRow } from '../generated/prisma/client';
import { asTenantContext, type RequestScope } from '../core/context';
import { byKey, createLoader } from '../core/loader-utils';
import { findConversationsByKeys, findConversationsByThreadIds } from './conversation.repository';

/** The per-request DataLoaders of the conversations feature; each batch is one SQL statement. */
export function createConversationLoaders(context: RequestScope) {
  return {
    conversationByKey: createLoader<string, ConversationRow | null>(context, 'conversationByKey', async (keys) =>
      byKey(keys, await findConversationsByKeys(asTenantContext(context), keys), (row) => row.id),
    ),
    /** The tenant's conversation of a LangGraph thread id, or null (also for another tenant's thread). */
    conversationByThreadId: createLoader<string, ConversationRow | null>(context, 'conversationByThreadId', async (threadIds) =>
      byKey(threadIds, await findConversationsByThreadIds(asTenantContext(context), threadIds), (row) => row.threadId),
    ),
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createConversationLoaders> {}
}
