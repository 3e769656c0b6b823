import { entityResolver } from '../graphql/entities';
import { Conversation } from './conversation.type';

/** Federation reference resolvers of the conversations feature. */
export const conversationEntityResolvers = {
  Conversation: entityResolver('Conversation', (context, key) => context.loaders.conversationByKey.load(key), Conversation.fromRow),
};
