import { Field, InputType, registerEnumType } from 'type-graphql';
import {
  assertMetadataFilter,
  assertSearchText,
  MAX_METADATA_FILTER_BYTES,
  MAX_METADATA_FILTER_DEPTH,
  MAX_SEARCH_TEXT_LENGTH,
} from '../graphql/search-inputs';
import { OrderDirection } from '../graphql/order';
import { assertOrderedRanges, assertRange, DecimalRange, IntRange } from '../graphql/ranges';
import { DateTime, JSONObject } from '../graphql/scalars';
import { ConversationStatus } from './conversation.type';

/** What conversations can be ordered by. */
export enum ConversationOrderField {
  LAST_ACTIVITY_AT = 'LAST_ACTIVITY_AT',
  CREATED_AT = 'CREATED_AT',
  COST_USD = 'COST_USD',
  TOTAL_TOKENS = 'TOTAL_TOKENS',
  STEP_COUNT = 'STEP_COUNT',
}
registerEnumType(ConversationOrderField, {
  name: 'ConversationOrderField',
  description: 'Sort key of the conversation list; ties are broken by id so pages never skip or repeat.',
  valuesConfig: {
    LAST_ACTIVITY_AT: { description: "When the thread's newest checkpoint was written." },
    CREATED_AT: { description: "When the thread's first checkpoint was written." },
    COST_USD: { description: 'Cost in USD (`costUsd`).' },
    TOTAL_TOKENS: { description: 'Tokens of all model calls (`tokenUsage.total`).' },
    STEP_COUNT: { description: 'Replay steps of the root graph (`stepCount`).' },
  },
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

  @Field(() => JSONObject, {
    nullable: true,
    description: `Threads whose metadata contains this object (PostgreSQL \`@>\`: nested objects match as subsets, arrays as containing these items), e.g. {"plan": "pro"}. At most ${MAX_METADATA_FILTER_DEPTH} levels deep and ${MAX_METADATA_FILTER_BYTES} bytes.`,
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: `Threads with a user or assistant message matching this web-search query: words (all must be in the message), "quoted phrases", \`or\`, and \`-word\` to exclude messages holding a word; never a syntax error. At most ${MAX_SEARCH_TEXT_LENGTH} characters; a blank query does not restrict.`,
  })
  text?: string | null;

  @Field(() => [String], { nullable: true, description: 'Threads that called any of these models.' })
  model?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Threads that called any of these tools.' })
  toolName?: string[] | null;

  @Field(() => DecimalRange, { nullable: true, description: 'Cost in USD within these bounds (inclusive).' })
  costUsd?: DecimalRange | null;

  @Field(() => IntRange, { nullable: true, description: 'Total tokens (`tokenUsage.total`) within these bounds (inclusive).' })
  totalTokens?: IntRange | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Threads that served a chat session on any of these channels (`Conversation.sessions`, channel exact match).',
  })
  channel?: string[] | null;
}

/**
 * Rejects a filter the list cannot answer, before any SQL, naming the offending field: a time range whose lower bound
 * is not before its upper bound, a `min` above its `max`, a metadata filter that is not a small object, a text query
 * too long.
 */
export function assertValidConversationFilter(filter: ConversationFilter | null | undefined): void {
  assertOrderedRanges(filter, [
    ['createdAfter', 'createdBefore'],
    ['lastActivityAfter', 'lastActivityBefore'],
  ]);
  if (!filter) return;
  assertMetadataFilter(filter.metadata, 'filter.metadata');
  assertSearchText(filter.text, 'filter.text');
  assertRange(filter.costUsd, 'filter.costUsd');
  assertRange(filter.totalTokens, 'filter.totalTokens');
}
