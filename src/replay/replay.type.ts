import { ArgsType, Field, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, ConnectionArgs } from '../graphql/connection';
import { DateTime, JSON, NonNegativeInt, SafeInt } from '../graphql/scalars';
import { toJsonValue } from './replay.json';
import { REPLAY_STEP_TYPES, type ReplayStep as EngineStep, type ReplayStepType as EngineStepType } from './replay.transformer';

/** The kinds of replay steps as a GraphQL enum (values are the engine's type names). */
export const ReplayStepType = Object.fromEntries(REPLAY_STEP_TYPES.map((type) => [type, type])) as { [T in EngineStepType]: T };
registerEnumType(ReplayStepType, {
  name: 'ReplayStepType',
  description: 'What a replay step is.',
  valuesConfig: {
    USER_MESSAGE: { description: 'A message from the user (a HumanMessage).' },
    ASSISTANT_MESSAGE: { description: 'Text the model answered (an AIMessage with text).' },
    REASONING: { description: "The model's reasoning before answering (thinking block, reasoning block or reasoning_content)." },
    TOOL_CALL: { description: 'A tool the model asked to run, with its arguments in `params`.' },
    TOOL_RESULT: { description: 'What a tool returned (a ToolMessage), with `status` SUCCESS or ERROR.' },
    INTERRUPT: { description: 'The graph paused at interrupt() for a human; the value asked is in `params`.' },
    RESUME: { description: 'A human answered an interrupt (Command({ resume })); the value is in `params`.' },
    ERROR: { description: 'An unhandled error stopped the run; `result` holds its name and message.' },
    STATE_UPDATE: { description: 'The state was changed from outside the graph (updateState); `params` tells what changed.' },
  },
});

/** Outcome of a tool step. */
export enum ReplayStepStatus {
  SUCCESS = 'SUCCESS',
  ERROR = 'ERROR',
}
registerEnumType(ReplayStepStatus, {
  name: 'ReplayStepStatus',
  description: 'Outcome of a tool result, an invalid tool call or an error step.',
  valuesConfig: {
    SUCCESS: { description: 'The tool ran and returned a result.' },
    ERROR: { description: 'The tool failed (its error is the content), the call was invalid, or the step is an ERROR.' },
  },
});

@ObjectType({
  simpleResolvers: true,
  description: 'Tokens of one model call, as the provider reported them; a count is null when it did not.',
})
export class ReplayTokenUsage {
  @Field(() => SafeInt, { nullable: true, description: 'Prompt (input) tokens.' })
  input!: number | null;

  @Field(() => SafeInt, { nullable: true, description: 'Completion (output) tokens, reasoning included.' })
  output!: number | null;

  @Field(() => SafeInt, { nullable: true, description: 'Total tokens of the call.' })
  total!: number | null;

  @Field(() => SafeInt, { nullable: true, description: 'Output tokens spent on reasoning.' })
  reasoning!: number | null;
}

@ObjectType({
  simpleResolvers: true,
  description:
    'One step of an agent conversation, read from LangGraph checkpoints: a message, tool call, tool result, interrupt, resume, error or state update.',
})
export class ReplayStep {
  @Field(() => NonNegativeInt, { description: 'Position of the step in its namespace, from 1, without gaps; also its cursor.' })
  ordinal!: number;

  @Field(() => ReplayStepType, { description: 'What the step is.' })
  type!: EngineStepType;

  @Field(() => DateTime, { description: 'When the superstep that produced the step finished (the checkpoint time).' })
  timestamp!: Date;

  @Field(() => SafeInt, {
    nullable: true,
    description:
      'Wall time of that superstep in milliseconds (model call or tool run); null for the first checkpoint and for interrupts, resumes and errors.',
  })
  durationMs!: number | null;

  @Field(() => String, { nullable: true, description: 'The graph node that produced the step, when it can be known.' })
  node!: string | null;

  @Field({ description: 'The LangGraph checkpoint the step belongs to.' })
  checkpointId!: string;

  @Field({ description: 'The checkpoint namespace: "" for the root graph, "node:task_id" (joined by "|") for subgraphs.' })
  namespace!: string;

  @Field(() => String, { nullable: true, description: 'The LangGraph task that produced the step, when known.' })
  taskId!: string | null;

  @Field(() => String, { nullable: true, description: 'Id of the message the step comes from.' })
  messageId!: string | null;

  @Field(() => String, { nullable: true, description: 'Text of a message or tool result; for other steps a short description.' })
  content!: string | null;

  @Field(() => String, { nullable: true, description: 'Tool name of a TOOL_CALL or TOOL_RESULT.' })
  toolName!: string | null;

  @Field(() => String, { nullable: true, description: 'Id linking a TOOL_CALL to its TOOL_RESULT.' })
  toolCallId!: string | null;

  @Field(() => JSON, {
    nullable: true,
    description: 'TOOL_CALL and TOOL_RESULT: the arguments; INTERRUPT and RESUME: the value; STATE_UPDATE: what changed.',
  })
  params!: unknown;

  @Field(() => JSON, { nullable: true, description: 'TOOL_RESULT: the tool message content as stored; ERROR: {name, message}.' })
  result!: unknown;

  @Field(() => ReplayStepStatus, { nullable: true, description: 'SUCCESS or ERROR for tool results, ERROR for invalid calls and errors.' })
  status!: ReplayStepStatus | null;

  @Field(() => String, { nullable: true, description: 'REASONING: the reasoning text.' })
  reasoning!: string | null;

  @Field(() => ReplayTokenUsage, {
    nullable: true,
    description: 'Tokens of the model call, on the first step of each AI message only, so that sums count every call once.',
  })
  tokenUsage!: ReplayTokenUsage | null;

  @Field(() => String, { nullable: true, description: 'The model of an AI message step, as the provider named it.' })
  model!: string | null;

  @Field(() => String, { nullable: true, description: "INTERRUPT and the RESUME answering it: LangGraph's interrupt id." })
  interruptId!: string | null;

  /** Maps a step of the replay engine to its GraphQL object. */
  static fromStep(step: EngineStep): ReplayStep {
    const node = new ReplayStep();
    Object.assign(node, {
      ordinal: step.ordinal,
      type: step.type,
      timestamp: new Date(step.timestamp),
      durationMs: step.durationMs,
      node: step.node,
      checkpointId: step.checkpointId,
      namespace: step.namespace,
      taskId: step.taskId,
      messageId: step.messageId,
      content: step.content,
      toolName: step.toolName,
      toolCallId: step.toolCallId,
      params: toJsonValue(step.params),
      result: toJsonValue(step.result),
      status: step.status === null ? null : step.status === 'success' ? ReplayStepStatus.SUCCESS : ReplayStepStatus.ERROR,
      reasoning: step.reasoning,
      tokenUsage: step.tokens,
      model: step.model,
      interruptId: step.interruptId,
    } satisfies { [K in keyof ReplayStep]: ReplayStep[K] });
    return node;
  }
}

@ObjectType({ simpleResolvers: true, description: 'A page of replay steps.' })
export class ReplayStepConnection extends Connection(ReplayStep, 'replay step') {}

/** Arguments of `Conversation.replay`. */
@ArgsType()
export class ReplayArgs extends ConnectionArgs {
  @Field(() => [ReplayStepType], {
    nullable: true,
    description: 'Only steps of these types (all when omitted or empty); ordinals and cursors stay those of the whole replay.',
  })
  types?: EngineStepType[] | null;

  @Field(() => String, {
    nullable: true,
    defaultValue: '',
    description: 'The checkpoint namespace to replay: "" (or null) for the root graph, or one of `namespaces` for a subgraph.',
  })
  namespace?: string | null;
}
