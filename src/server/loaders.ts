import { createConversationLoaders } from '../conversations/conversation.loaders';
import { createSessionLoaders } from '../sessions/session.loaders';
import type { RequestContext } from './context';

/** All DataLoaders of one request, by feature. */
export type Loaders = ReturnType<typeof createLoaders>;

/** Creates a fresh set of DataLoaders for one request (never shared between requests). */
export function createLoaders(context: RequestContext) {
  return { ...createSessionLoaders(context), ...createConversationLoaders(context) };
}
