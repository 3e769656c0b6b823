import { createConversationLoaders } from '../conversations/conversation.loaders';
import { findNamespacesByConversationKeys } from '../replay/replay.repository';
import { createSessionLoaders } from '../sessions/session.loaders';
import { asTenantContext, type RequestContext } from './context';
import { byKey, createLoader } from './loader-utils';

/** All DataLoaders of one request, by feature. */
export type Loaders = ReturnType<typeof createLoaders>;

/** Creates a fresh set of DataLoaders for one request (never shared between requests). */
export function createLoaders(context: RequestContext) {
  return { ...createSessionLoaders(context), ...createConversationLoaders(context), ...createReplayLoaders(context) };
}

/** The per-request DataLoaders of the replay feature; each batch is one SQL statement. */
function createReplayLoaders(context: RequestContext) {
  return {
    /** Checkpoint namespaces per conversation key ([] for a conversation without checkpoints or of another tenant). */
    namespacesByConversationKey: createLoader<string, string[]>(context, 'namespacesByConversationKey', async (keys) =>
      byKey(keys, await findNamespacesByConversationKeys(asTenantContext(context), keys), (row) => row.key).map(
        (row) => row?.namespaces ?? [],
      ),
    ),
  };
}
