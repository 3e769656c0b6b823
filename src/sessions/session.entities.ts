import { fromGlobalId } from '../graphql/global-id';
import type { RequestContext } from '../server/context';
import { Message } from './message.type';
import { Session } from './session.type';

/**
 * Federation reference resolvers: `_entities` representations `{ id }` resolve through the same
 * per-request DataLoaders (one statement per type per batch); foreign or malformed ids give null.
 */
export const sessionEntityResolvers = {
  Session: {
    async __resolveReference(reference: { id: string }, context: RequestContext): Promise<Session | null> {
      const key = entityKey(reference.id, 'Session');
      const row = key && (await context.loaders.sessionByKey.load(key));
      return row ? Session.fromRow(row) : null;
    },
  },
  Message: {
    async __resolveReference(reference: { id: string }, context: RequestContext): Promise<Message | null> {
      const key = entityKey(reference.id, 'Message');
      const row = key && (await context.loaders.messageByKey.load(key));
      return row ? Message.fromRow(row) : null;
    },
  },
};

function entityKey(id: string, type: string): string | null {
  try {
    const decoded = fromGlobalId(id);
    return decoded.type === type ? decoded.key : null;
  } catch {
    return null;
  }
}
