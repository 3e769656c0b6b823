import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import { assertOrderedRanges } from '../graphql/ranges';
import { OrderDirection } from '../graphql/order';
import { DateTime } from '../graphql/scalars';
import { SessionStatus } from './session.type';

/** What sessions can be ordered by. */
export enum SessionOrderField {
  STARTED_AT = 'STARTED_AT',
  LAST_ACTIVITY_AT = 'LAST_ACTIVITY_AT',
}
registerEnumType(SessionOrderField, {
  name: 'SessionOrderField',
  description: 'Sort key of the session list; ties are broken by id so pages never skip or repeat.',
});

@InputType({ description: 'Order of the session list. Default: STARTED_AT, DESC (newest first).' })
export class SessionOrder {
  @Field(() => SessionOrderField, { defaultValue: SessionOrderField.STARTED_AT, description: 'Sort key.' })
  field!: SessionOrderField;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.DESC, description: 'Sort direction.' })
  direction!: OrderDirection;
}

@InputType({
  description:
    'Which sessions to include. All conditions must hold. `…After` bounds are inclusive (>=), `…Before` bounds are exclusive (<). An empty list means no restriction.',
})
export class SessionFilter {
  @Field(() => [SessionStatus], { nullable: true, description: 'Any of these statuses.' })
  status?: SessionStatus[] | null;

  @Field(() => [String], { nullable: true, description: 'Any of these channels (exact match).' })
  channel?: string[] | null;

  @Field(() => String, { nullable: true, description: "The bot's own session id (exact match)." })
  sessionId?: string | null;

  @Field(() => DateTime, { nullable: true, description: 'Started at or after this instant (inclusive).' })
  startedAfter?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Started before this instant (exclusive).' })
  startedBefore?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Last activity at or after this instant (inclusive).' })
  lastActivityAfter?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Last activity before this instant (exclusive).' })
  lastActivityBefore?: Date | null;
}

/** Rejects time ranges whose lower bound is not before their upper bound. */
export function assertValidSessionFilter(filter: SessionFilter | null | undefined): void {
  assertOrderedRanges(filter, [
    ['startedAfter', 'startedBefore'],
    ['lastActivityAfter', 'lastActivityBefore'],
  ]);
}

@InputType({ description: 'Change the status of a session.' })
export class UpdateSessionStatusInput {
  @Field(() => ID, { description: 'Global ID of the session.' })
  id!: string;

  @Field(() => SessionStatus, { description: 'The new status: CLOSED or EXPIRED for an ACTIVE session.' })
  status!: SessionStatus;
}
