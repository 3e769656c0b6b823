import { Field, InputType, registerEnumType } from 'type-graphql';
import { assertOrderedRanges } from '../graphql/ranges';
import { DateTime, JSONObject } from '../graphql/scalars';
import { BadUserInputError } from '../graphql/errors';
import { assertMetadataFilter, assertSearchText, MAX_METADATA_FILTER_BYTES, MAX_METADATA_FILTER_DEPTH } from '../graphql/search-inputs';
import { MessageRole } from './message.type';
import { SessionStatus } from './session.type';

/** The order of message search hits. */
export enum MessageSearchOrder {
  NEWEST = 'NEWEST',
  RELEVANCE = 'RELEVANCE',
}
registerEnumType(MessageSearchOrder, {
  name: 'MessageSearchOrder',
  description: 'Order of message search hits; ties are broken by message id so pages never skip or repeat.',
  valuesConfig: {
    NEWEST: { description: 'Newest message first.' },
    RELEVANCE: {
      description:
        "Best first among the newest N matches: the newest SEARCH_COUNT_LIMIT matching messages (a server setting, 10,000 by default) ordered by PostgreSQL `ts_rank` of their content for the query, then by id. Older matches are not in this order (NEWEST, or a narrower query or `createdBefore`, reaches them); a new match moves the window, as any new item moves a keyset list's pages.",
    },
  },
});

@InputType({
  description:
    'Which messages a search includes besides matching the query. All conditions must hold. `createdAfter` is inclusive (>=), `createdBefore` exclusive (<). An empty list means no restriction.',
})
export class MessageSearchFilter {
  @Field(() => [MessageRole], { nullable: true, description: 'Messages with any of these roles.' })
  role?: MessageRole[] | null;

  @Field(() => [String], { nullable: true, description: 'Messages of sessions on any of these channels (exact match).' })
  channel?: string[] | null;

  @Field(() => [SessionStatus], { nullable: true, description: 'Messages of sessions with any of these statuses.' })
  sessionStatus?: SessionStatus[] | null;

  @Field(() => DateTime, { nullable: true, description: 'Messages written at or after this instant (inclusive).' })
  createdAfter?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Messages written before this instant (exclusive).' })
  createdBefore?: Date | null;

  @Field(() => JSONObject, {
    nullable: true,
    description: `Messages of sessions whose metadata contains this object (as SessionFilter.metadata). At most ${MAX_METADATA_FILTER_DEPTH} levels deep and ${MAX_METADATA_FILTER_BYTES} bytes.`,
  })
  sessionMetadata?: Record<string, unknown> | null;
}

/** Rejects a blank or too long query, a time range whose lower bound is not before its upper bound, and a metadata filter out of bounds. */
export function assertValidMessageSearch(query: string, filter: MessageSearchFilter | null | undefined): void {
  assertSearchText(query, 'query');
  if (query.trim() === '') {
    throw new BadUserInputError('`query` must contain at least one word to search for, received a blank string.', 'query');
  }
  assertOrderedRanges(filter, [['createdAfter', 'createdBefore']]);
  assertMetadataFilter(filter?.sessionMetadata, 'filter.sessionMetadata');
}
