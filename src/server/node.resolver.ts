import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../core/context';
import { Conversation } from '../conversations/conversation.type';
import { Message } from '../sessions/message.type';
import { Session } from '../sessions/session.type';
import { fromGlobalId } from '../graphql/global-id';
import { MAX_PAGE_SIZE } from '../graphql/connection';
import { BadUserInputError } from '../graphql/errors';
import { Node } from '../graphql/node';

/** Relay's `node` and `nodes`: refetch any object by global ID, through the per-request loaders. */
@Resolver()
export class NodeResolver {
  @Authorized('read')
  @Query(() => Node, { nullable: true, description: 'Any object by its global ID; null when it does not exist.' })
  node(@Arg('id', () => ID, { description: 'A global ID.' }) id: string, @Ctx() context: RequestContext): Promise<Node | null> {
    return loadNode(id, context);
  }

  @Authorized('read')
  @Query(() => [Node], {
    nullable: 'items',
    description: `Objects by global ID, in the same order (null where one does not exist); at most ${MAX_PAGE_SIZE}.`,
  })
  nodes(@Arg('ids', () => [ID], { description: 'Global IDs.' }) ids: string[], @Ctx() context: RequestContext): Promise<(Node | null)[]> {
    if (ids.length > MAX_PAGE_SIZE) throw new BadUserInputError(`Pass at most ${MAX_PAGE_SIZE} ids, received ${ids.length}.`, 'ids');
    return Promise.all(ids.map((id) => loadNode(id, context)));
  }
}

async function loadNode(id: string, context: RequestContext): Promise<Node | null> {
  const { type, key } = fromGlobalId(id);
  switch (type) {
    case 'Session': {
      const row = await context.loaders.sessionByKey.load(key);
      return row && Session.fromRow(row);
    }
    case 'Message': {
      const row = await context.loaders.messageByKey.load(key);
      return row && Message.fromRow(row);
    }
    case 'Conversation': {
      const row = await context.loaders.conversationByKey.load(key);
      return row && Conversation.fromRow(row);
    }
  }
}
