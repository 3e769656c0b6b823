import { Field, InputType, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../graphql/order';
import { assertOrderedRanges } from '../graphql/ranges';
import { DateTime } from '../graphql/scalars';
import { ConversationStatus } from './conversation.type';

/** What conversations can be ordered by. */
export enum ConversationOrderField {
  LAST_ACTIVITY_AT = 'LAST_ACTIVITY_AT',
  CREATED_AT = 'CREATED_AT',
}
registerEnumType(ConversationOrderField, {
  name: 'ConversationOrderField',
  description: 'Sort key of the conversation list; ties are broken by id so pages never skip or repeat.',
});

@InputType({ description: 'Order of the conversation list. Default: LAST_ACTIVITY_AT, DESC (most recently active first).' })
export class ConversationOrder {
  @Field(() => ConversationOrderField, { defaultValue: ConversationOrderField.LAST_ACTIVITY_AT, description: 'Sort key.' })
  field!: ConversationOrderField;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.DESC, description: 'Sort direction.' })
  direction!: OrderDirection;
}

@InputType({
  description:
    'Which conversations to include. All conditions must hold. `…After` bounds are inclusive (>=), `…Before` bounds are exclusive (<). An empty list means no restriction.',
})
export class ConversationFilter {
  @Field(() => [ConversationStatus], { nullable: true, description: 'Any of these statuses.' })
  status?: ConversationStatus[] | null;

  @Field(() => DateTime, { nullable: true, description: 'Created at or after this instant (inclusive).' })
  createdAfter?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Created before this instant (exclusive).' })
  createdBefore?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Last activity at or after this instant (inclusive).' })
  lastActivityAfter?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Last activity before this instant (exclusive).' })
  lastActivityBefore?: Date | null;
}

/** Rejects time ranges whose lower bound is not before their upper bound. */
export function assertValidConversationFilter(filter: ConversationFilter | null | undefined): void {
  assertOrderedRanges(filter, [
    ['createdAfter', 'createdBefore'],
    ['lastActivityAfter', 'lastActivityBefore'],
  ]);
}
