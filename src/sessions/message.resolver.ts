import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../core/context';
import { Message } from './message.type';
import { Session } from './session.type';

/** Fields of a message that reach other objects. */
@Resolver(() => Message)
export class MessageResolver {
  @FieldResolver(() => Session, { description: 'The session the message belongs to.' })
  async session(@Root() message: Message, @Ctx() context: RequestContext): Promise<Session> {
    const row = await context.loaders.sessionByKey.load(message.sessionKey);
    // A message's session belongs to the same tenant (composite foreign key), so it always exists.
    return Session.fromRow(row!);
  }
}
