import { Args, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { ConnectionArgs, toConnection, toKeysetPage, type ConnectionValue } from '../graphql/connection';
import type { RequestContext } from '../core/context';
import { Conversation } from '../conversations/conversation.type';
import { Session, SessionConnection } from './session.type';

/**
 * The link between a chat session and the LangGraph agent thread that served it (`sessions.thread_id`, generated from
 * the session's metadata key `threadId`), both ways. The link is data of the sessions, so both fields live here.
 */
@Resolver(() => Session)
export class SessionConversationResolver {
  @FieldResolver(() => Conversation, {
    nullable: true,
    description:
      "The agent thread (conversation) that served the session: the tenant's conversation of its `threadId`; null when it names none, or a thread not synced yet.",
  })
  async conversation(@Root() session: Session, @Ctx() context: RequestContext): Promise<Conversation | null> {
    if (session.threadId === null) return null;
    const row = await context.loaders.conversationByThreadId.load(session.threadId);
    return row && Conversation.fromRow(row);
  }
}

/** Chat sessions of an agent thread. */
@Resolver(() => Conversation)
export class ConversationSessionsResolver {
  @FieldResolver(() => SessionConnection, {
    description: 'The chat sessions this agent thread served (those whose `threadId` is its thread_id), oldest started first.',
  })
  async sessions(
    @Root() conversation: Conversation,
    @Args() args: ConnectionArgs,
    @Ctx() context: RequestContext,
  ): Promise<ConnectionValue<Session>> {
    const listKey = 'ConversationSession:STARTED_AT';
    const page = toKeysetPage(args, listKey);
    const rows = await context.loaders.sessionPageByThread(page).load(conversation.threadId);
    return toConnection(
      rows,
      page,
      listKey,
      (row) => ({ value: row.startedAt.toISOString(), id: row.id }),
      (row) => Session.fromRow(row),
      () => context.loaders.sessionCountByThread.load(conversation.threadId),
    );
  }
}
