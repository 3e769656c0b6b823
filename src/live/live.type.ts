import { Field, ObjectType, registerEnumType } from 'type-graphql';
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
