import type { Conversation as ConversationRow } from '../generated/prisma/client';
import { asTenantContext, type RequestContext } from '../server/context';
import { byKey, createLoader } from '../server/loader-utils';
import { findConversationsByKeys } from './conversation.repository';

/** The per-request DataLoaders of the conversations feature; each batch is one SQL statement. */
export function createConversationLoaders(context: RequestContext) {
  return {
    conversationByKey: createLoader<string, ConversationRow | null>(context, 'conversationByKey', async (keys) =>
      byKey(keys, await findConversationsByKeys(asTenantContext(context), keys), (row) => row.id),
    ),
  };
}
