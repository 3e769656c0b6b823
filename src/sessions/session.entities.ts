import { entityResolver } from '../graphql/entities';
import { Message } from './message.type';
import { Session } from './session.type';

/** Federation reference resolvers of the sessions feature. */
export const sessionEntityResolvers = {
  Session: entityResolver('Session', (context, key) => context.loaders.sessionByKey.load(key), Session.fromRow),
  Message: entityResolver('Message', (context, key) => context.loaders.messageByKey.load(key), Message.fromRow),
};
