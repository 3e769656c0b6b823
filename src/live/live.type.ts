import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { Conversation } from '../conversations/conversation.type';
import { Session } from '../sessions/session.type';

/** What happened to a session, as `SessionChangedEvent.changes` reports it. */
export enum SessionChange {
  CREATED = 'CREATED',
  MESSAGES_ADDED = 'MESSAGES_ADDED',
  STATUS_CHANGED = 'STATUS_CHANGED',
  UPDATED = 'UPDATED',
}
registerEnumType(SessionChange, {
  name: 'SessionChange',
  description: 'What happened to a session since the previous event about it.',
  valuesConfig: {
    CREATED: { description: 'The session was created.' },
    MESSAGES_ADDED: { description: 'One or more messages were added to it.' },
    STATUS_CHANGED: { description: 'Its status changed (closed by a client, or expired by the idle-expiry job).' },
    UPDATED: { description: 'Its metadata, channel or session id changed.' },
  },
});

/** One event of `sessionChanged`. */
@ObjectType({ simpleResolvers: true, description: 'A session that changed, as it is now, and what changed.' })
export class SessionChangedEvent {
  @Field(() => Session, { description: 'The session after the change; any selection, resolved as a query would.' })
  session!: Session;

  @Field(() => [SessionChange], {
    description: 'What changed. Changes committed close together (within one delivery) come as one event listing each kind once.',
  })
  changes!: SessionChange[];
}

/** What happened to an agent thread, as `ConversationChangedEvent.changes` reports it. */
export enum ConversationChange {
  CREATED = 'CREATED',
  ADVANCED = 'ADVANCED',
  INTERRUPTED = 'INTERRUPTED',
  RESUMED = 'RESUMED',
  FAILED = 'FAILED',
}
registerEnumType(ConversationChange, {
  name: 'ConversationChange',
  description: 'What happened to an agent thread since the previous event about it.',
  valuesConfig: {
    CREATED: { description: 'The thread was seen for the first time (its conversation was created).' },
    ADVANCED: { description: 'The agent wrote new checkpoints (new steps).' },
    INTERRUPTED: { description: 'The agent paused at an interrupt() and waits for a human (see pendingInterrupts).' },
    RESUMED: { description: 'An interrupt was answered and the run went on.' },
    FAILED: { description: 'An unhandled error stopped the run (see lastError).' },
  },
});

/** One event of `conversationChanged`. */
@ObjectType({ simpleResolvers: true, description: 'An agent thread that changed, as it is now, and what changed.' })
export class ConversationChangedEvent {
  @Field(() => Conversation, { description: 'The conversation after the change; any selection, resolved as a query would.' })
  conversation!: Conversation;

  @Field(() => [ConversationChange], {
    description:
      'What changed. Changes read together (within one sync of the thread or one delivery) come as one event listing each kind once.',
  })
  changes!: ConversationChange[];
}
