import { Arg, Authorized, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { asTenantContext } from '../core/context';
import { assertValidConversationFilter, ConversationFilter } from '../conversations/conversation.inputs';
import { ordinalAfter, replayListKey } from '../replay/replay.cursor';
import { ReplayStepConnection } from '../replay/replay.type';
import { BadUserInputError } from '../graphql/errors';
import { fromGlobalIdOf } from '../graphql/global-id';
import { Message } from '../sessions/message.type';
import { assertValidSessionFilter, SessionFilter } from '../sessions/session.inputs';
import type { LiveContext, LiveSubscriber } from './live.bus';
import { liveStream, type LiveDelivery, type LiveIterator } from './live.stream';
import { replayTailStream, type ReplayTailEdge } from './live.tail';
import { ConversationChangedEvent, SessionChangedEvent } from './live.type';

/** The subscriber of a WebSocket operation; an operation over HTTP has none (the HTTP server refuses subscriptions first). */
function subscriberOf(context: LiveContext): LiveSubscriber {
  if (!context.live) throw new BadUserInputError('Subscriptions are served over WebSocket (graphql-ws) on /graphql.');
  return context.live;
}

function subscribeSessions({
  args,
  context,
}: SubscribeResolverData<unknown, { filter?: SessionFilter | null }, LiveContext>): LiveIterator<LiveDelivery<SessionChangedEvent>> {
  const tenant = asTenantContext(context);
  assertValidSessionFilter(args.filter);
  const { bus, connection } = subscriberOf(context);
  return liveStream(connection, (sink) => bus.watchSessions(tenant.viewer.tenantId, args.filter ?? null, sink));
}

function subscribeMessages({
  args,
  context,
}: SubscribeResolverData<unknown, { sessionId: string }, LiveContext>): LiveIterator<LiveDelivery<Message>> {
  const tenant = asTenantContext(context);
  const key = fromGlobalIdOf('Session', args.sessionId, 'sessionId');
  const { bus, connection } = subscriberOf(context);
  // Another tenant's session (or none) is watched like any other and so yields nothing: its events go to its tenant only.
  return liveStream(connection, (sink) => bus.watchMessages(tenant.viewer.tenantId, key, sink));
}

function subscribeConversations({
  args,
  context,
}: SubscribeResolverData<unknown, { filter?: ConversationFilter | null }, LiveContext>): LiveIterator<
  LiveDelivery<ConversationChangedEvent>
> {
  const tenant = asTenantContext(context);
  assertValidConversationFilter(args.filter);
  const { bus, connection } = subscriberOf(context);
  return liveStream(connection, (sink) => bus.watchConversations(tenant.viewer.tenantId, args.filter ?? null, sink));
}

async function subscribeReplayTail({
  args,
  context,
}: SubscribeResolverData<unknown, { conversationId: string; after?: string | null }, LiveContext>): Promise<
  LiveIterator<LiveDelivery<ReplayTailEdge>>
> {
  const tenant = asTenantContext(context);
  const key = fromGlobalIdOf('Conversation', args.conversationId, 'conversationId');
  const listKey = replayListKey(key, '');
  const after = ordinalAfter(listKey, args.after);
  const { bus } = subscriberOf(context);
  // Another tenant's conversation (or none) reads as none, and its tail yields nothing, as messageAdded does.
  const row = await tenant.loaders.conversationByKey.load(key);
  const conversation = row === null ? null : { key: row.id, threadId: row.threadId };
  return replayTailStream({ watcher: bus, context: tenant, conversation, listKey, after, logger: tenant.logger });
}

/**
 * What each event of a subscription resolves to: the value its stream delivered, as plain functions that replace
 * type-graphql's resolvers of these fields in the schema. Its wrapper ran the `@Authorized` chain and converted the
 * arguments (a SessionFilter into class instances) again on every event; the scope is checked once, when the
 * subscription starts (type-graphql wraps `subscribe` with the auth checker), and the arguments are read there too.
 */
const deliveredValue = <T>(delivery: LiveDelivery<T>): T => delivery.value;
export const liveFieldResolvers = {
  Subscription: {
    sessionChanged: { resolve: deliveredValue },
    messageAdded: { resolve: deliveredValue },
    conversationChanged: { resolve: deliveredValue },
    replayTail: { resolve: deliveredValue },
  },
};

/** Subscriptions to the tenant's sessions, messages and agent threads as they change, over WebSocket (graphql-ws). */
@Resolver()
export class LiveResolver {
  @Authorized('read')
  @Subscription(() => SessionChangedEvent, {
    description:
      "Each change of the tenant's sessions that `filter` selects (after the change): created, messages added, status " +
      'changed (closed, or expired by the idle-expiry job), metadata updated; whoever wrote it. Over WebSocket only.',
    subscribe: subscribeSessions,
  })
  sessionChanged(
    @Root() delivery: LiveDelivery<SessionChangedEvent>,
    @Arg('filter', () => SessionFilter, { nullable: true, description: 'Which sessions to watch, as in `sessions`; all when null.' })
    _filter: SessionFilter | null,
  ): SessionChangedEvent {
    return delivery.value;
  }

  @Authorized('read')
  @Subscription(() => Message, {
    description: 'Each message added to one session, in the order they were committed. Over WebSocket only.',
    subscribe: subscribeMessages,
  })
  messageAdded(
    @Root() delivery: LiveDelivery<Message>,
    @Arg('sessionId', () => ID, { description: 'Global ID of the session.' }) _sessionId: string,
  ): Message {
    return delivery.value;
  }

  @Authorized('read')
  @Subscription(() => ConversationChangedEvent, {
    description:
      "Each change of the tenant's agent threads that `filter` selects (after the change): created, advanced, interrupted, " +
      'resumed, failed. LangGraph announces its writes to the database, and the thread is synced at once while anyone ' +
      'subscribes. Over WebSocket only.',
    subscribe: subscribeConversations,
  })
  conversationChanged(
    @Root() delivery: LiveDelivery<ConversationChangedEvent>,
    @Arg('filter', () => ConversationFilter, {
      nullable: true,
      description: 'Which conversations to watch, as in `conversations`; all when null.',
    })
    _filter: ConversationFilter | null,
  ): ConversationChangedEvent {
    return delivery.value;
  }

  @Authorized('read')
  @Subscription(() => ReplayStepConnection.Edge, {
    description:
      'The live tail of an agent run (the root graph): first the replay steps after `after` (all when null), then each new ' +
      'step as the agent writes it, in order, with the cursors of `Conversation.replay`, without gap or repeat. ' +
      "Another tenant's conversation yields nothing. Over WebSocket only.",
    subscribe: subscribeReplayTail,
  })
  replayTail(
    @Root() delivery: LiveDelivery<ReplayTailEdge>,
    @Arg('conversationId', () => ID, { description: 'Global ID of the conversation.' }) _conversationId: string,
    @Arg('after', () => String, {
      nullable: true,
      description: 'Cursor of the last step the client has (from `replay` or an earlier `replayTail`); from the first step when null.',
    })
    _after: string | null,
  ): ReplayTailEdge {
    return delivery.value;
  }
}
