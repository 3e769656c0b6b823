import { Field, Float, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { DateTime, Decimal, JSONObject, NonNegativeInt, SafeInt } from '../graphql/scalars';
import { SessionStatus } from '../sessions/session.type';

/** How usage buckets are keyed. */
export enum UsageGroupBy {
  DAY = 'DAY',
  WEEK = 'WEEK',
  CHANNEL = 'CHANNEL',
  STATUS = 'STATUS',
  MODEL = 'MODEL',
}
registerEnumType(UsageGroupBy, {
  name: 'UsageGroupBy',
  description: 'How usage is bucketed.',
  valuesConfig: {
    DAY: { description: 'UTC day (key YYYY-MM-DD).' },
    WEEK: { description: 'ISO week starting Monday, UTC (key: the Monday, YYYY-MM-DD).' },
    CHANNEL: { description: 'Session channel.' },
    STATUS: { description: 'Session status.' },
    MODEL: { description: 'Model named in message metadata ("unknown" when none).' },
  },
});

@InputType({
  description:
    'Which activity to count: sessions started, messages written and conversations active in [from, to). `channel`, `status`, `metadata`, `text`, `hasErrors`, `toolName` and `model` restrict sessions and their messages exactly as in SessionFilter; conversations, which have none of them, are counted only when all are absent.',
})
export class UsageFilter {
  @Field(() => DateTime, { nullable: true, description: 'Start, inclusive. Default: 30 days before `to`.' })
  from?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'End, exclusive. Default: now.' })
  to?: Date | null;

  @Field(() => [String], { nullable: true, description: 'Only sessions on these channels.' })
  channel?: string[] | null;

  @Field(() => [SessionStatus], { nullable: true, description: 'Only sessions with these statuses.' })
  status?: SessionStatus[] | null;

  @Field(() => JSONObject, {
    nullable: true,
    description: 'Only sessions whose metadata contains this object (as SessionFilter.metadata).',
  })
  metadata?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'Only sessions with a message matching this web-search query (as SessionFilter.text).',
  })
  text?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Only sessions with (true) or without (false) errors (as SessionFilter.hasErrors).',
  })
  hasErrors?: boolean | null;

  @Field(() => [String], { nullable: true, description: 'Only sessions that called any of these tools (as SessionFilter.toolName).' })
  toolName?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Only sessions with a message by any of these models (as SessionFilter.model).' })
  model?: string[] | null;
}

@ObjectType({ simpleResolvers: true, description: 'Usage of one bucket. Percentiles are null when the bucket has no value to rank.' })
export class UsageBucket {
  @Field({ description: 'The bucket: a day or week start (YYYY-MM-DD), a channel, a status or a model.' })
  key!: string;

  @Field(() => DateTime, { nullable: true, description: 'Start of the bucket for DAY and WEEK; null otherwise.' })
  start!: Date | null;

  @Field(() => NonNegativeInt, { description: 'Sessions started (MODEL: sessions with a message of that model).' })
  sessions!: number;

  @Field(() => NonNegativeInt, { description: 'Messages written.' })
  messages!: number;

  @Field(() => NonNegativeInt, { description: 'Conversations (agent threads) last active in the bucket; 0 for CHANNEL, STATUS and MODEL.' })
  conversations!: number;

  @Field(() => SafeInt, { description: 'Input tokens: message usage plus conversation rollups.' })
  inputTokens!: number;

  @Field(() => SafeInt, { description: 'Output tokens: message usage plus conversation rollups.' })
  outputTokens!: number;

  @Field(() => Decimal, { description: 'Cost in USD: message tokens at the configured model prices plus conversation costs.' })
  costUsd!: string;

  @Field(() => Float, { nullable: true, description: 'Median session duration, seconds.' })
  sessionDurationP50!: number | null;

  @Field(() => Float, { nullable: true, description: '95th percentile of session duration, seconds.' })
  sessionDurationP95!: number | null;

  @Field(() => Float, { nullable: true, description: 'Median step latency (assistant message `latencyMs`), milliseconds.' })
  stepLatencyP50!: number | null;

  @Field(() => Float, { nullable: true, description: '95th percentile of step latency, milliseconds.' })
  stepLatencyP95!: number | null;
}

@ObjectType({ simpleResolvers: true, description: 'Usage over a time range, in buckets.' })
export class Usage {
  @Field(() => DateTime, { description: 'Start of the range, inclusive.' })
  from!: Date;

  @Field(() => DateTime, { description: 'End of the range, exclusive.' })
  to!: Date;

  @Field(() => UsageGroupBy, { description: 'How the buckets are keyed.' })
  groupBy!: UsageGroupBy;

  @Field(() => [UsageBucket], { description: 'Buckets with any activity, ordered by key.' })
  buckets!: UsageBucket[];
}
