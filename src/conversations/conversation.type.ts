import { Directive, Field, ObjectType, registerEnumType } from 'type-graphql';
import { Connection } from '../graphql/connection';
import { toGlobalId } from '../graphql/global-id';
import { Node } from '../graphql/node';
import { DateTime, Decimal, JSON, JSONObject, NonNegativeInt, SafeInt } from '../graphql/scalars';
import { ConversationStatus } from '../generated/prisma/enums';
import type { Conversation as ConversationRow } from '../generated/prisma/client';

export { ConversationStatus };
registerEnumType(ConversationStatus, {
  name: 'ConversationStatus',
  description: "State of an agent thread after its last run, as read from LangGraph's checkpoints.",
  valuesConfig: {
    IDLE: { description: 'The last run finished; the agent waits for new input.' },
    INTERRUPTED: { description: 'The agent paused at an interrupt() and waits to be resumed (see pendingInterrupt).' },
    ERROR: { description: 'The last run stopped on an unhandled error (see lastError).' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'Tokens used by the model calls of a thread.' })
export class TokenUsage {
  @Field(() => SafeInt, { description: 'Prompt (input) tokens.' })
  input!: number;

  @Field(() => SafeInt, { description: 'Completion (output) tokens, reasoning included.' })
  output!: number;

  @Field(() => SafeInt, { description: 'input + output.' })
  total!: number;

  @Field(() => SafeInt, { description: 'Output tokens spent on reasoning, where the model reports them.' })
  reasoning!: number;
}

@ObjectType({ simpleResolvers: true, description: 'An unhandled error that stopped an agent run.' })
export class ConversationError {
  @Field({ description: 'Error class name, e.g. "TypeError".' })
  name!: string;

  @Field({ description: 'Error message.' })
  message!: string;

  @Field(() => String, { nullable: true, description: 'The graph node that raised it, when known.' })
  node!: string | null;

  @Field(() => String, { nullable: true, description: 'LangGraph checkpoint the failed step ran from.' })
  checkpointId!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'What an interrupted agent waits for.' })
export class PendingInterrupt {
  @Field(() => String, { nullable: true, description: "LangGraph's interrupt id (pass it back when resuming several at once)." })
  interruptId!: string | null;

  @Field(() => JSON, { nullable: true, description: 'The value the graph passed to interrupt(), e.g. a question for a human.' })
  value!: unknown;

  @Field(() => String, { nullable: true, description: 'The graph node that paused.' })
  node!: string | null;

  @Field(() => String, { nullable: true, description: 'LangGraph checkpoint the paused step ran from.' })
  checkpointId!: string | null;
}

/** An agent thread as the API shows it. */
@Directive('@key(fields: "id")')
@ObjectType({
  simpleResolvers: true,
  implements: Node,
  description: 'An agent thread (a LangGraph thread_id) with usage rollups and its step-by-step replay.',
})
export class Conversation extends Node {
  /** The database key; not a GraphQL field. */
  key!: string;

  @Field({ description: "LangGraph's thread_id." })
  threadId!: string;

  @Field(() => String, { nullable: true, description: 'The first user message, shortened; null before any.' })
  title!: string | null;

  @Field(() => ConversationStatus, { description: 'State after the last run.' })
  status!: ConversationStatus;

  @Field(() => DateTime, { description: "When the thread's first checkpoint was written." })
  createdAt!: Date;

  @Field(() => DateTime, { description: "When the thread's newest checkpoint was written." })
  lastActivityAt!: Date;

  @Field(() => NonNegativeInt, { description: 'Replay steps of the root graph (messages, tool calls, interrupts, …).' })
  stepCount!: number;

  @Field(() => TokenUsage, { description: 'Tokens of all model calls.' })
  tokenUsage!: TokenUsage;

  @Field(() => Decimal, { description: 'Cost in USD from the configured per-model prices, as an exact decimal string.' })
  costUsd!: string;

  @Field(() => [PendingInterrupt], { description: 'What the agent waits for when INTERRUPTED; empty otherwise.' })
  pendingInterrupts!: PendingInterrupt[];

  @Field(() => ConversationError, { nullable: true, description: 'The error that stopped the last run, when ERROR.' })
  lastError!: ConversationError | null;

  @Field(() => JSONObject, {
    description:
      "The thread's run metadata, from its root checkpoints without LangGraph's own keys (source, step, parents, …); a later run's value of a key replaces an earlier one. Empty when runs pass none.",
  })
  metadata!: Record<string, unknown>;

  /** Maps a database row to its GraphQL object. */
  static fromRow(row: ConversationRow): Conversation {
    return Conversation.fromFields({
      ...row,
      inputTokens: Number(row.inputTokens),
      outputTokens: Number(row.outputTokens),
      reasoningTokens: Number(row.reasoningTokens),
      costUsd: row.costUsd.toFixed(8),
    });
  }

  /** Makes the GraphQL object of a conversation's fields (a list page's row, or a database row converted by fromRow). */
  static fromFields(row: ConversationFields): Conversation {
    const conversation = new Conversation();
    conversation.key = row.id;
    conversation.id = toGlobalId('Conversation', row.id);
    conversation.threadId = row.threadId;
    conversation.title = row.title;
    conversation.status = row.status;
    conversation.createdAt = row.createdAt;
    conversation.lastActivityAt = row.lastActivityAt;
    conversation.stepCount = row.stepCount;
    const input = row.inputTokens;
    const output = row.outputTokens;
    conversation.tokenUsage = { input, output, total: input + output, reasoning: row.reasoningTokens };
    conversation.costUsd = row.costUsd;
    conversation.pendingInterrupts = row.status === ConversationStatus.INTERRUPTED ? readPendingInterrupts(row.pendingInterrupt) : [];
    conversation.lastError = row.status === ConversationStatus.ERROR ? readError(row.lastError) : null;
    conversation.metadata = record(row.metadata) ?? {};
    return conversation;
  }
}

/**
 * What a Conversation object is made of: the columns it shows, tokens as numbers (within JavaScript's safe integers, as
 * `SafeInt` requires) and the cost as its exact decimal string with 8 decimals, as `numeric(18, 8)` prints it.
 */
export interface ConversationFields {
  id: string;
  threadId: string;
  title: string | null;
  status: ConversationStatus;
  createdAt: Date;
  lastActivityAt: Date;
  stepCount: number;
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: string;
  pendingInterrupt: unknown;
  lastError: unknown;
  /** Null when the statement did not read it: a list reads it only when the operation shows it. */
  metadata: unknown;
}

@ObjectType({ simpleResolvers: true, description: 'A page of conversations.' })
export class ConversationConnection extends Connection(Conversation, 'conversation') {}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Reads the stored pending interrupt: `{checkpointId, interrupts:[{interruptId,value,node}]}` or a single `{id, value}`. */
function readPendingInterrupts(stored: unknown): PendingInterrupt[] {
  const root = record(stored);
  if (!root) return [];
  const checkpointId = text(root.checkpointId);
  const items = Array.isArray(root.interrupts) ? root.interrupts : [root];
  return items.flatMap((item) => {
    const entry = record(item);
    if (!entry) return [];
    return [{ interruptId: text(entry.interruptId) ?? text(entry.id), value: entry.value ?? null, node: text(entry.node), checkpointId }];
  });
}

function readError(stored: unknown): ConversationError | null {
  const error = record(stored);
  if (!error) return null;
  return {
    name: text(error.name) ?? 'Error',
    message: text(error.message) ?? '',
    node: text(error.node),
    checkpointId: text(error.checkpointId),
  };
}
