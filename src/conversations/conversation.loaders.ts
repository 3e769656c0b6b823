import DataLoader from 'dataloader';
import type { Conversation as ConversationRow } from '../generated/prisma/client';
import { asTenantContext, type RequestContext } from '../server/context';
import { byKey, loaderOptions } from '../server/loader-utils';
import { findConversationsByKeys } from './conversation.repository';

/** The per-request DataLoaders of the conversations feature; each batch is one SQL statement. */
export function createConversationLoaders(context: RequestContext) {
  return {
    conversationByKey: new DataLoader<string, ConversationRow | null>(
      async (keys) => byKey(keys, await findConversationsByKeys(asTenantContext(context), keys), (row) => row.id),
      loaderOptions(context),
    ),
  };
}
