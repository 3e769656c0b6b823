import { Field, Float, ID, ObjectType, registerEnumType } from 'type-graphql';
import { DateTime, JSON, NonNegativeInt } from '../graphql/scalars';

/** Outcome of a tool call. */
export enum ToolCallStatus {
  SUCCESS = 'SUCCESS',
  ERROR = 'ERROR',
}
registerEnumType(ToolCallStatus, {
  name: 'ToolCallStatus',
  description: 'Whether a tool call succeeded.',
  valuesConfig: {
    SUCCESS: { description: 'The tool returned a result.' },
    ERROR: { description: 'The tool failed; `error` says why when the bot recorded it.' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'A document the bot retrieved to answer.' })
export class RetrievalHit {
  @Field(() => ID, { description: 'Global ID of the message that recorded it.' })
  messageId!: string;

  @Field(() => DateTime, { description: 'When the message was written.' })
  at!: Date;

  @Field({ description: 'Where the document came from (path, URL or knowledge-base id).' })
  source!: string;

  @Field(() => Float, { nullable: true, description: 'Relevance score as the retriever reported it.' })
  score!: number | null;

  @Field(() => String, { nullable: true, description: 'The retrieved text, or its start.' })
  snippet!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A tool the bot called, with its arguments and result.' })
export class ToolCallTrace {
  @Field(() => ID, { description: 'Global ID of the message that recorded it.' })
  messageId!: string;

  @Field(() => DateTime, { description: 'When the message was written.' })
  at!: Date;

  @Field(() => String, { nullable: true, description: "The tool call's own id, when recorded." })
  callId!: string | null;

  @Field({ description: 'Tool name.' })
  name!: string;

  @Field(() => JSON, { nullable: true, description: 'Arguments passed to the tool.' })
  arguments!: unknown;

  @Field(() => JSON, { nullable: true, description: 'What the tool returned.' })
  result!: unknown;

  @Field(() => ToolCallStatus, { description: 'SUCCESS, or ERROR when the tool failed.' })
  status!: ToolCallStatus;

  @Field(() => String, { nullable: true, description: 'Why the tool failed, when it did.' })
  error!: string | null;

  @Field(() => NonNegativeInt, { nullable: true, description: 'How long the call took, in milliseconds.' })
  durationMs!: number | null;
}

@ObjectType({ simpleResolvers: true, description: 'An error the bot recorded while handling the session.' })
export class TraceError {
  @Field(() => ID, { description: 'Global ID of the message that recorded it.' })
  messageId!: string;

  @Field(() => DateTime, { description: 'When it happened (the message time when the error has none).' })
  at!: Date;

  @Field({ description: 'What went wrong.' })
  message!: string;

  @Field(() => String, { nullable: true, description: 'Machine-readable error code, when recorded.' })
  code!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'How many items the trace holds of each kind.' })
export class TraceCounts {
  @Field(() => NonNegativeInt, { description: 'Retrieval hits.' })
  retrievals!: number;

  @Field(() => NonNegativeInt, { description: 'Tool calls.' })
  toolCalls!: number;

  @Field(() => NonNegativeInt, { description: 'Tool calls that failed.' })
  failedToolCalls!: number;

  @Field(() => NonNegativeInt, { description: 'Errors.' })
  errors!: number;
}

@ObjectType({
  simpleResolvers: true,
  description: "What happened behind a session's answers, read from its messages' metadata, oldest first.",
})
export class SessionTrace {
  @Field(() => [RetrievalHit], { description: 'Documents retrieved, in time order.' })
  retrievals!: RetrievalHit[];

  @Field(() => [ToolCallTrace], { description: 'Tool calls, in time order.' })
  toolCalls!: ToolCallTrace[];

  @Field(() => [TraceError], { description: 'Errors, in time order.' })
  errors!: TraceError[];

  @Field(() => TraceCounts, { description: 'Totals of each kind.' })
  counts!: TraceCounts;
}
