import { asTenantContext, type RequestScope } from '../core/context';
import { byKey, createLoader } from '../core/loader-utils';
import { findNamespacesByConversationKeys } from './replay.repository';

/** The per-request DataLoaders of the replay feature; each batch is one SQL statement. */
export function createReplayLoaders(context: RequestScope) {
  return {
    /** Checkpoint namespaces per conversation key ([] for a conversation without checkpoints or of another tenant). */
    namespacesByConversationKey: createLoader<string, string[]>(context, 'namespacesByConversationKey', async (keys) =>
      byKey(keys, await findNamespacesByConversationKeys(asTenantContext(context), keys), (row) => row.key).map(
        (row) => row?.namespaces ?? [],
      ),
    ),
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createReplayLoaders> {}
}
