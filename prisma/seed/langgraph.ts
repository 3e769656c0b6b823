// LangGraph.js's on-disk checkpoint format (PostgresSaver, checkpoint v4), reproduced row for row:
// see shared/LANGGRAPH_FORMAT.md. A CheckpointThread plays LangGraph's loop for one (thread, ns):
// each superstep records its tasks' writes under the checkpoint they ran from, bumps every channel
// it consumed or wrote to max(version) + 1, stores one blob per new channel version (the whole
// message list for `messages`), and puts the next checkpoint.
import { createHash } from 'node:crypto';
import type { Random } from './random';
import type { TableSpec } from './writer';

/** Columns of LangGraph's `checkpoints` table, in row order. */
export const CHECKPOINTS_TABLE: TableSpec = {
  name: 'checkpoints',
  columns: [
    ['thread_id', 'text'],
    ['checkpoint_ns', 'text'],
    ['checkpoint_id', 'text'],
    ['parent_checkpoint_id', 'text'],
    ['type', 'text'],
    ['checkpoint', 'jsonb'],
    ['metadata', 'jsonb'],
  ],
};

/** Columns of LangGraph's `checkpoint_blobs` table, in row order. */
export const CHECKPOINT_BLOBS_TABLE: TableSpec = {
  name: 'checkpoint_blobs',
  columns: [
    ['thread_id', 'text'],
    ['checkpoint_ns', 'text'],
    ['channel', 'text'],
    ['version', 'text'],
    ['type', 'text'],
    ['blob', 'bytea'],
  ],
};

/** Columns of LangGraph's `checkpoint_writes` table, in row order. */
export const CHECKPOINT_WRITES_TABLE: TableSpec = {
  name: 'checkpoint_writes',
  columns: [
    ['thread_id', 'text'],
    ['checkpoint_ns', 'text'],
    ['checkpoint_id', 'text'],
    ['task_id', 'text'],
    ['idx', 'integer'],
    ['channel', 'text'],
    ['type', 'text'],
    ['blob', 'bytea'],
  ],
};

/** Receives the rows of the three checkpoint tables, values in table order. */
export interface CheckpointSink {
  checkpoint(row: unknown[]): void;
  blob(row: unknown[]): void;
  write(row: unknown[]): void;
}

/** The task id LangGraph gives the raw `Command.resume` value. */
const NULL_TASK_ID = '00000000-0000-0000-0000-000000000000';

// WRITES_IDX_MAP of @langchain/langgraph-checkpoint: special channels have fixed write indexes.
const SPECIAL_IDX = { __error__: -1, __scheduled__: -2, __interrupt__: -3, __resume__: -4 } as const;

// 100-ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch, in ms.
const GREGORIAN_OFFSET_MS = 12_219_292_800_000n;

/**
 * LangGraph's checkpoint id: a UUID v6 of the time (ms), with clock_seq = 0x8000 + step
 * (0xffff for step -1), so ids sort chronologically; `node` is 12 hex digits.
 */
export function checkpointUuid6(ms: number, step: number, node: string): string {
  const time = ((BigInt(ms) + GREGORIAN_OFFSET_MS) * 10_000n).toString(16).padStart(15, '0');
  const clockSeq = step < 0 ? 0xffff : (0x8000 + step) & 0xffff;
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-6${time.slice(12, 15)}-${clockSeq.toString(16).padStart(4, '0')}-${node}`;
}

/** A name-based UUID v5 (SHA-1), as LangGraph's uuid5(name, namespace). */
export function uuid5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Token usage of an AI message. */
export interface Usage {
  readonly input: number;
  readonly output: number;
  readonly reasoning: number;
}

/** A LangChain message in LangChain's serialized form, as it sits in the `messages` channel. */
export interface LcMessage {
  readonly id: string;
  readonly type: 'human' | 'ai' | 'tool' | 'system';
  readonly content: string | readonly Record<string, unknown>[];
  /** Model name and usage of AI messages (for the conversation rollups). */
  readonly model?: string;
  readonly usage?: Usage;
  /** Serialized with its id, as the reducer stores it in the channel. */
  readonly stateJson: string;
  /** Serialized as the task that produced it wrote it: raw input, or a ToolMessage without id. */
  readonly writeJson: string;
}

const CLASS_NAMES = { human: 'HumanMessage', ai: 'AIMessage', tool: 'ToolMessage', system: 'SystemMessage' };

function constructorJson(type: LcMessage['type'], kwargs: Record<string, unknown>): string {
  return JSON.stringify({ lc: 1, type: 'constructor', id: ['langchain_core', 'messages', CLASS_NAMES[type]], kwargs });
}

/** A user (or system) message as a run's input: raw `{role, content}` in writes, a HumanMessage in the channel. */
export function inputMessage(rng: Random, role: 'user' | 'system', content: string): LcMessage {
  const id = rng.uuid();
  const type = role === 'user' ? 'human' : 'system';
  return {
    id,
    type,
    content,
    stateJson: constructorJson(type, { content, additional_kwargs: {}, response_metadata: {}, id }),
    writeJson: JSON.stringify({ role, content }),
  };
}

/** A tool call of an AI message. */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}

/** What an AI message is made of. */
export interface AiMessageInput {
  readonly content: string | readonly Record<string, unknown>[];
  readonly toolCalls?: readonly ToolCall[];
  readonly model: string;
  readonly usage: Usage;
}

/** An AIMessage as a chat model returns it (ids come from the model, so writes carry them too). */
export function aiMessage(rng: Random, input: AiMessageInput): LcMessage {
  const id = rng.uuid();
  const toolCalls = input.toolCalls ?? [];
  const { input: inputTokens, output, reasoning } = input.usage;
  const json = constructorJson('ai', {
    content: input.content,
    tool_calls: toolCalls.map((call) => ({ id: call.id, name: call.name, args: call.args, type: 'tool_call' })),
    usage_metadata: {
      input_tokens: inputTokens,
      output_tokens: output,
      total_tokens: inputTokens + output,
      ...(reasoning > 0 ? { output_token_details: { reasoning } } : {}),
    },
    response_metadata: {
      model_name: input.model,
      finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
      tokenUsage: { promptTokens: inputTokens, completionTokens: output, totalTokens: inputTokens + output },
    },
    invalid_tool_calls: [],
    additional_kwargs: {},
    id,
  });
  return { id, type: 'ai', content: input.content, model: input.model, usage: input.usage, stateJson: json, writeJson: json };
}

/** What a tool result is made of; `viaToolNode` adds the fields ToolNode sets (metadata, artifact). */
export interface ToolMessageInput {
  readonly call: ToolCall;
  readonly content: string;
  readonly status: 'success' | 'error';
  readonly viaToolNode: boolean;
}

/** A ToolMessage: written without id by its node; the reducer gives it a uuid4 in the channel. */
export function toolMessage(rng: Random, input: ToolMessageInput): LcMessage {
  const id = rng.uuid();
  const head = { status: input.status, content: input.content };
  const link = { tool_call_id: input.call.id, name: input.call.name };
  const tail = { additional_kwargs: {}, response_metadata: {} };
  const fromToolNode = input.viaToolNode && input.status === 'success';
  const metadata = fromToolNode ? { metadata: { versions: { '@langchain/core': '1.4.0' } } } : {};
  return {
    id,
    type: 'tool',
    content: input.content,
    stateJson: constructorJson('tool', { ...head, ...link, ...metadata, ...tail, id }),
    writeJson: constructorJson('tool', {
      ...head,
      ...(fromToolNode ? { artifact: { lc: 2, type: 'undefined' } } : {}),
      ...link,
      ...metadata,
      ...tail,
    }),
  };
}

/** One task of a superstep: the node that ran, what it wrote to `messages`, and where it routes. */
export interface Task {
  readonly id: string;
  readonly node: string;
  readonly messages?: readonly LcMessage[];
  /** Write the messages in channel form (a subgraph returning its state) instead of the task's own form. */
  readonly writeStateForm?: boolean;
  /** The next node; through a conditional edge the branch value is this node's name, else null. */
  readonly goto?: { readonly node: string; readonly conditional: boolean };
}

/** The trigger channel of a node. */
function triggerOf(node: string): string {
  return node === '__start__' ? '__start__' : `branch:to:${node}`;
}

/** Where a CheckpointThread writes and what its checkpoints' metadata carries besides source/step/parents. */
export interface ThreadOptions {
  readonly threadId: string;
  readonly ns?: string;
  /** metadata.parents: {"": parent checkpoint id} in a subgraph. */
  readonly parents?: Readonly<Record<string, string>>;
  /** Extra metadata keys (LangGraph copies run config.metadata, e.g. tenant_id). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The newest checkpoint of a thread namespace. */
export interface Head {
  readonly id: string;
  readonly ts: number;
  readonly step: number;
}

/** LangGraph's checkpointing loop for one (thread, namespace), emitting rows to a sink. */
export class CheckpointThread {
  readonly threadId: string;
  readonly ns: string;
  /** The current `messages` channel value. */
  readonly messages: LcMessage[] = [];
  /** Checkpoints written. */
  checkpointCount = 0;
  private readonly positions = new Map<string, number>();
  private readonly stateJsons: string[] = [];
  private readonly versions: Record<string, number> = {};
  private readonly seen: Record<string, Record<string, number>> = { __input__: {} };
  private readonly parents: Readonly<Record<string, string>>;
  private readonly extraMetadata: Readonly<Record<string, unknown>>;
  private current: Head | undefined;
  private oldest: Head | undefined;
  private pendingInput: Task | undefined;

  constructor(
    private readonly sink: CheckpointSink,
    private readonly rng: Random,
    options: ThreadOptions,
  ) {
    this.threadId = options.threadId;
    this.ns = options.ns ?? '';
    this.parents = options.parents ?? {};
    this.extraMetadata = options.metadata;
  }

  /** The oldest checkpoint; throws before the first. */
  get first(): Head {
    if (!this.oldest) throw new Error(`Thread ${this.threadId} has no checkpoint yet`);
    return this.oldest;
  }

  /** The newest checkpoint; throws before the first. */
  get head(): Head {
    if (!this.current) throw new Error(`Thread ${this.threadId} has no checkpoint yet`);
    return this.current;
  }

  /**
   * The id LangGraph gives the task of `node` run from the head checkpoint (a pull task triggered by
   * its branch channel): uuid5 of [task namespace, step, node, "__pregel_pull", [trigger]] in the
   * namespace of the checkpoint id. getState() matches errors and interrupts to tasks by this id.
   */
  taskId(node: string): string {
    const head = this.head;
    const taskNs = this.ns === '' ? node : `${this.ns}|${node}`;
    const name = JSON.stringify([taskNs, String(head.step + 1), node, '__pregel_pull', [triggerOf(node)]]);
    return uuid5(name, head.id);
  }

  /**
   * Starts a run: an `input` checkpoint holding the input in `__start__`, with the __start__ task's
   * writes (the input and the trigger of `entry`). The next superstep() applies them.
   */
  input(ts: number, messages: readonly LcMessage[], entry: string, stateForm = false): void {
    const list = messages.map((message) => (stateForm ? message.stateJson : message.writeJson));
    const version = this.nextVersion();
    this.versions.__start__ = version;
    this.putBlob('__start__', version, `{"messages":[${list.join(',')}]}`);
    this.putCheckpoint(ts, 'input');
    const task: Task = {
      id: this.taskId('__start__'),
      node: '__start__',
      messages,
      writeStateForm: stateForm,
      goto: { node: entry, conditional: false },
    };
    this.putTaskWrites(task, 0);
    this.pendingInput = task;
  }

  /**
   * Runs tasks from the head: records their writes under it (unless already recorded, as for a
   * resumed task), then puts the `loop` checkpoint with the new channel versions and blobs.
   */
  superstep(ts: number, tasks: readonly Task[], options: { writesRecorded?: boolean } = {}): void {
    if (!options.writesRecorded) for (const task of tasks) this.putTaskWrites(task, 0);
    const version = this.nextVersion();
    // Channel → its new JSON value; null for a trigger the tasks consumed (an `empty` blob).
    const updates = new Map<string, string | null>();
    for (const task of tasks) {
      const trigger = triggerOf(task.node);
      this.seen[task.node] = { ...this.seen[task.node], [trigger]: this.versions[trigger] ?? 0 };
      updates.set(trigger, null);
    }
    let messagesChanged = false;
    for (const task of tasks) {
      if (task.messages && task.messages.length > 0) {
        this.applyMessages(task.messages);
        messagesChanged = true;
      }
      if (task.goto) updates.set(triggerOf(task.goto.node), this.branchValue(task));
    }
    if (messagesChanged) updates.set('messages', `[${this.stateJsons.join(',')}]`);
    for (const [channel, value] of updates) {
      this.versions[channel] = version;
      this.putBlob(channel, version, value);
    }
    this.putCheckpoint(ts, 'loop');
  }

  /** Applies the pending input (the __start__ task) in a superstep. */
  start(ts: number): void {
    const task = this.pendingInput;
    if (!task) throw new Error(`Thread ${this.threadId} has no pending input to start`);
    this.pendingInput = undefined;
    this.superstep(ts, [task], { writesRecorded: true });
  }

  /** A task that called interrupt(value): an `__interrupt__` write under the head; no checkpoint. */
  interrupt(task: Task, value: unknown): { id: string; value: unknown } {
    const entry = { id: this.rng.hex(16), value };
    this.putWrite(task.id, SPECIAL_IDX.__interrupt__, '__interrupt__', JSON.stringify([entry]));
    return entry;
  }

  /** Resumes an interrupted task with Command({resume}): `__resume__` rows, its writes, then the next checkpoint. */
  resume(ts: number, task: Task, resumeValue: unknown): void {
    const idx = SPECIAL_IDX.__resume__;
    this.putWrite(NULL_TASK_ID, idx, '__resume__', JSON.stringify(resumeValue));
    this.putWrite(task.id, idx, '__resume__', JSON.stringify([resumeValue]));
    // The resume value took write index 0 of the task, so its outputs start at 1.
    this.putTaskWrites(task, 1);
    this.seen.__interrupt__ = { ...this.versions };
    this.superstep(ts, [task], { writesRecorded: true });
  }

  /** A task that threw: an `__error__` write under the head, and no later checkpoint. */
  fail(task: Task, error: { message: string; name: string }): void {
    this.putWrite(task.id, SPECIAL_IDX.__error__, '__error__', JSON.stringify(error));
  }

  private nextVersion(): number {
    let max = 0;
    for (const version of Object.values(this.versions)) if (version > max) max = version;
    return max + 1;
  }

  private branchValue(task: Task): string {
    return task.goto?.conditional ? JSON.stringify(task.node) : 'null';
  }

  private applyMessages(messages: readonly LcMessage[]): void {
    // add_messages: a message whose id is already in the list replaces it; others are appended.
    for (const message of messages) {
      const at = this.positions.get(message.id);
      if (at === undefined) {
        this.positions.set(message.id, this.messages.length);
        this.messages.push(message);
        this.stateJsons.push(message.stateJson);
      } else {
        this.messages[at] = message;
        this.stateJsons[at] = message.stateJson;
      }
    }
  }

  private putTaskWrites(task: Task, firstIdx: number): void {
    let idx = firstIdx;
    if (task.messages && task.messages.length > 0) {
      const list = task.messages.map((m) => (task.writeStateForm ? m.stateJson : m.writeJson));
      this.putWrite(task.id, idx++, 'messages', `[${list.join(',')}]`);
    }
    if (task.goto) this.putWrite(task.id, idx, triggerOf(task.goto.node), this.branchValue(task));
  }

  private putWrite(taskId: string, idx: number, channel: string, json: string): void {
    const blob = Buffer.from(json, 'utf8');
    this.sink.write([this.threadId, this.ns, this.head.id, taskId, idx, channel, 'json', blob]);
  }

  private putBlob(channel: string, version: number, json: string | null): void {
    const blob = json === null ? null : Buffer.from(json, 'utf8');
    this.sink.blob([this.threadId, this.ns, channel, String(version), blob ? 'json' : 'empty', blob]);
  }

  private putCheckpoint(ts: number, source: 'input' | 'loop'): void {
    const parent = this.current;
    if (parent && ts <= parent.ts) {
      throw new Error(`Checkpoint times must increase: ${ts} after ${parent.ts} in ${this.threadId}`);
    }
    const step = parent ? parent.step + 1 : -1;
    const id = checkpointUuid6(ts, step, this.rng.hex(6));
    const checkpoint = {
      v: 4,
      id,
      ts: new Date(ts).toISOString(),
      channel_versions: this.versions,
      versions_seen: this.seen,
    };
    const metadata = { source, step, parents: this.parents, ...this.extraMetadata };
    this.sink.checkpoint([this.threadId, this.ns, id, parent?.id ?? null, null, JSON.stringify(checkpoint), JSON.stringify(metadata)]);
    this.current = { id, ts, step };
    this.oldest ??= this.current;
    this.checkpointCount += 1;
  }
}
