import type { Conversation as ConversationRow } from '../generated/prisma/client';
import { asTenantContext, type RequestScope } from '../core/context';
import { byKey, createLoader } from '../core/loader-utils';
import { findConversationsByKeys } from './conversation.repository';

/** The per-request DataLoaders of the conversations feature; each batch is one SQL statement. */
export function createConversationLoaders(context: RequestScope) {
  return {
    conversationByKey: createLoader<string, ConversationRow | null>(context, 'conversationByKey', async (keys) =>
      byKey(keys, await findConversationsByKeys(asTenantContext(context), keys), (row) => row.id),
    ),
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createConversationLoaders> {}
}
