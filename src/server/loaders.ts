import type { UsageCache } from '../analytics/usage.cache';
import { createUsageLoaders } from '../analytics/usage.loaders';
import type { UsageFigures } from '../analytics/usage.repository';
import { createConversationLoaders } from '../conversations/conversation.loaders';
import type { Loaders, RequestScope } from '../core/context';
import { createReplayLoaders } from '../replay/replay.loaders';
import { createSessionLoaders } from '../sessions/session.loaders';

/** What loaders share between requests of one process. */
export interface SharedLoaderState {
  readonly usageCache: UsageCache<UsageFigures[]>;
}

/** Creates a fresh set of DataLoaders for one request (never shared between requests): every feature's. */
export function createLoaders(context: RequestScope, shared: SharedLoaderState): Loaders {
  return {
    ...createSessionLoaders(context),
    ...createConversationLoaders(context),
    ...createReplayLoaders(context),
    ...createUsageLoaders(context, shared.usageCache),
  };
}
