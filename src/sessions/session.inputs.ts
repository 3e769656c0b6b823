import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import { assertOrderedRanges } from '../graphql/ranges';
import { OrderDirection } from '../graphql/order';
import { DateTime, JSONObject } from '../graphql/scalars';
import {
  assertMetadataFilter,
  assertSearchText,
  MAX_METADATA_FILTER_BYTES,
  MAX_METADATA_FILTER_DEPTH,
  MAX_SEARCH_TEXT_LENGTH,
} from '../graphql/search-inputs';
import { SessionStatus } from './session.type';
import { MAX_ID_LENGTH, THREAD_ID_METADATA_KEY } from './session.write-checks';

/** What sessions can be ordered by. */
export enum SessionOrderField {
  STARTED_AT = 'STARTED_AT',
  LAST_ACTIVITY_AT = 'LAST_ACTIVITY_AT',
}
registerEnumType(SessionOrderField, {
  name: 'SessionOrderField',
  description: 'Sort key of the session list; ties are broken by id so pages never skip or repeat.',
  valuesConfig: {
    STARTED_AT: { description: 'When the session started.' },
    LAST_ACTIVITY_AT: { description: 'When the last message or event happened.' },
  },
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

  @Field(() => JSONObject, {
    nullable: true,
    description: `Sessions whose metadata contains this object (PostgreSQL \`@>\`: nested objects match as subsets, arrays as containing these elements), e.g. \`{"plan": "pro"}\`. At most ${MAX_METADATA_FILTER_DEPTH} levels deep and ${MAX_METADATA_FILTER_BYTES} bytes.`,
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: `Sessions with at least one message whose content matches this web-search query: words (all must occur), "quoted phrases", \`or\`, \`-excluded\`; never a syntax error. Words are matched with the server's text search configuration (TEXT_SEARCH_CONFIG, default \`simple\`: no stemming). At most ${MAX_SEARCH_TEXT_LENGTH} characters; a blank query is no restriction.`,
  })
  text?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'true: sessions with a trace error or a failed tool call (as `Session.trace` reports them); false: sessions with neither.',
  })
  hasErrors?: boolean | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Sessions that called any of these tools (`Session.trace` tool call names, exact match).',
  })
  toolName?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Sessions with a message by any of these models (message metadata `model`, exact match).',
  })
  model?: string[] | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "true: sessions linked to an agent thread the tenant's conversations hold (`conversation` is not null); false: sessions without one (no `threadId`, or a thread not synced).",
  })
  hasConversation?: boolean | null;
}

/** Rejects time ranges whose lower bound is not before their upper bound, and metadata or text filters out of bounds. */
export function assertValidSessionFilter(filter: SessionFilter | null | undefined, argument = 'filter'): void {
  assertOrderedRanges(filter, [
    ['startedAfter', 'startedBefore'],
    ['lastActivityAfter', 'lastActivityBefore'],
  ]);
  assertMetadataFilter(filter?.metadata, `${argument}.metadata`);
  assertSearchText(filter?.text, `${argument}.text`);
}

@InputType({ description: "Create or update a session by the bot's own session id." })
export class UpsertSessionInput {
  @Field({ description: `The bot's own session id, unique within the tenant (at most ${MAX_ID_LENGTH} characters).` })
  sessionId!: string;

  @Field({ description: 'Where the session takes place: web, app, api, phone, email, …' })
  channel!: string;

  @Field(() => DateTime, {
    nullable: true,
    description: 'When the session started; default now on creation, unchanged on update. At most INGEST_MAX_FUTURE_SECONDS ahead.',
  })
  startedAt?: Date | null;

  @Field(() => JSONObject, {
    nullable: true,
    description:
      'Free-form data of the session; replaces the stored metadata when given (the thread link `threadId` is kept unless this object or `threadId` names another).',
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: `LangGraph thread_id of the agent thread serving the session (stored as the metadata key \`${THREAD_ID_METADATA_KEY}\`); null unlinks, omitted keeps.`,
  })
  threadId?: string | null;
}

@InputType({ description: 'Change the status of a session.' })
export class UpdateSessionStatusInput {
  @Field(() => ID, { description: 'Global ID of the session.' })
  id!: string;

  @Field(() => SessionStatus, { description: 'The new status: CLOSED or EXPIRED for an ACTIVE session.' })
  status!: SessionStatus;
}
