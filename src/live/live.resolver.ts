import { Arg, Authorized, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { asTenantContext } from '../core/context';
import { BadUserInputError } from '../graphql/errors';
import { fromGlobalIdOf } from '../graphql/global-id';
import { Message } from '../sessions/message.type';
import { assertValidSessionFilter, SessionFilter } from '../sessions/session.inputs';
import type { LiveContext, LiveSubscriber } from './live.bus';
import { liveStream, type LiveDelivery, type LiveIterator } from './live.stream';
import { SessionChangedEvent } from './live.type';

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

/** Subscriptions to the tenant's sessions and messages as they change, over WebSocket (graphql-ws). */
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
}
