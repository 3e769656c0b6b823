/**
 * Turns the LangGraph checkpoint rows of one (thread_id, checkpoint_ns) into ReplaySteps.
 *
 * Design
 * - Unit of work = one checkpoint D with its parent C. D's steps are: a STATE_UPDATE when D was written by
 *   `updateState`; then one group per message whose id is in D's `messages` blob but not in C's (REASONING,
 *   ASSISTANT_MESSAGE and TOOL_CALLs for an AIMessage, USER_MESSAGE, TOOL_RESULT), stamped with D.ts and
 *   D.ts − C.ts; then the INTERRUPT, RESUME and ERROR writes stored under D (they happen in the superstep that runs
 *   *from* D, have no time of their own and get D.ts with a null duration).
 * - Producer node = the task that ran from C and wrote the message. Tasks are re-planned from C's header (trigger
 *   channels newer than `versions_seen` and not `empty`, plus Sends) and their ids recomputed the way LangGraph.js does
 *   (uuid5 of the task path), which matches `checkpoint_writes.task_id`; with several tasks, C's `messages` writes are
 *   decoded to tell which task wrote which message.
 * - Paging without loading the thread: every `messages` blob holds the whole list, so bytes grow quadratically with
 *   length. A window of K consecutive checkpoints needs only the `messages` blobs of those K checkpoints plus the one
 *   of the parent of the first (for its ids), i.e. at most K + 1 blob decodes (fewer when versions repeat: a
 *   checkpoint whose `messages` version equals its parent's is not decoded at all), the tiny trigger blobs' `type`
 *   column (never decoded) and the writes stored under those K + 1 checkpoints. {@link blobKeysForWindow} lists
 *   exactly which rows to load. To find which checkpoints hold ordinals N…M, a compact step index (checkpoint →
 *   step count, steps before it, counts per type; see replay.step-index.ts) is kept incrementally by the sync job.
 * - Order: checkpoints follow the lineage of the newest checkpoint (parent chain, so forks are left out); within a
 *   checkpoint, messages keep their list order. Ordinals are 1-based and dense within a (thread, namespace).
 * - SystemMessages produce no step (no step type fits them); edits of an existing message (same id) produce none
 *   either, except that a `source:"update"` checkpoint always yields its STATE_UPDATE.
 * - Decoding is data-only (checkpoint.decoder.ts); this module never evaluates or instantiates anything.
 */
import type { DecodedValue } from './checkpoint.decoder';
import { isDecodedObject, reviveLangChainJson } from './checkpoint.decoder';
import {
  CheckpointBlobStore,
  CheckpointWriteStore,
  NULL_TASK_ID,
  SpecialChannel,
  compareChannelVersions,
  nodeNamesOf,
  orderCheckpointLineage,
  planTasksFrom,
  readCheckpointHeader,
  updateTaskIdsOf,
  versionKey,
  type BlobKey,
  type ChannelVersion,
  type CheckpointHeader,
  type CheckpointRow,
  type PlannedTask,
} from './checkpoint.rows';
import { readMessage, type ReplayMessage, type TokenUsage } from './replay.messages';

/** The kinds of replay steps, in the order of the GraphQL enum. */
export const REPLAY_STEP_TYPES = [
  'USER_MESSAGE',
  'ASSISTANT_MESSAGE',
  'REASONING',
  'TOOL_CALL',
  'TOOL_RESULT',
  'INTERRUPT',
  'RESUME',
  'ERROR',
  'STATE_UPDATE',
] as const;

/** The kind of a replay step. */
export type ReplayStepType = (typeof REPLAY_STEP_TYPES)[number];

/** One step of a conversation replay, as the GraphQL `ReplayStep` type exposes it. */
export interface ReplayStep {
  /** 1-based position of the step in its (thread, namespace). */
  ordinal: number;
  type: ReplayStepType;
  /** ISO-8601 `checkpoint.ts` of the checkpoint the step belongs to. */
  timestamp: string;
  /** Wall time of the superstep that produced the step (ts − parent ts); null for the first checkpoint and for writes. */
  durationMs: number | null;
  /** Graph node that produced the step; null when it cannot be known (e.g. an `updateState` on a fixed edge). */
  node: string | null;
  checkpointId: string;
  /** `checkpoint_ns`: "" for the root graph, `node:task_id[|…]` for subgraphs. */
  namespace: string;
  /** LangGraph task id that produced the step, when known. */
  taskId: string | null;
  /** Id of the message the step comes from. */
  messageId: string | null;
  content: string | null;
  toolName: string | null;
  toolCallId: string | null;
  /** TOOL_CALL/TOOL_RESULT: the call's arguments; INTERRUPT/RESUME: the value; STATE_UPDATE: what changed. */
  params: DecodedValue | null;
  /** TOOL_RESULT: the tool message content as stored; ERROR: `{name, message}`. */
  result: DecodedValue | null;
  status: 'success' | 'error' | null;
  reasoning: string | null;
  /** Token usage of the model call, on the first step of each AI message only (so sums count each call once). */
  tokens: TokenUsage | null;
  model: string | null;
  /** INTERRUPT (and the RESUME that answers it): LangGraph's interrupt id. */
  interruptId: string | null;
}

/** Options shared by the transform functions. */
export interface TransformOptions {
  /** Name of the state channel holding the message list (default `messages`, as in MessagesAnnotation). */
  messagesChannel?: string;
}

/** Input of {@link transformCheckpoint}: one checkpoint, its parent and the rows loaded for them. */
export interface TransformCheckpointInput extends TransformOptions {
  checkpoint: CheckpointRow;
  parent: CheckpointRow | null;
  /** Keys (ids) of the parent's messages, in order; read from the parent's blob when omitted. */
  parentMessageKeys?: readonly string[];
  blobs: CheckpointBlobStore;
  writes: CheckpointWriteStore;
  /** Number of steps of the (thread, namespace) before this checkpoint; ordinals continue from it. */
  stepsBefore: number;
}

/** The steps of one checkpoint and the message keys it holds (pass them on as the next one's `parentMessageKeys`). */
export interface CheckpointSteps {
  checkpointId: string;
  parentCheckpointId: string | null;
  /** `checkpoint.ts` (ISO-8601). */
  timestamp: string;
  steps: ReplayStep[];
  messageKeys: readonly string[];
}

/** Input of {@link transformCheckpointWindow}: consecutive checkpoints of a lineage and the rows loaded for them. */
export interface TransformWindowInput extends TransformOptions {
  /** Consecutive checkpoints of one lineage, oldest first. */
  checkpoints: readonly CheckpointRow[];
  /** Parent of the first checkpoint (null when the window starts at the root). */
  parentOfFirst: CheckpointRow | null;
  parentMessageKeys?: readonly string[];
  blobs: CheckpointBlobStore;
  writes: CheckpointWriteStore;
  stepsBefore: number;
}

/** Computes the replay steps of one checkpoint. */
export function transformCheckpoint(input: TransformCheckpointInput): CheckpointSteps {
  const channel = input.messagesChannel ?? SpecialChannel.messages;
  const header = readCheckpointHeader(input.checkpoint);
  const parent = input.parent === null ? null : readCheckpointHeader(input.parent);
  if (parent === null && header.parentId !== null) {
    throw new Error(
      `transformCheckpoint: checkpoint ${header.id} has parent ${header.parentId}; pass that row as "parent" (null is for the first checkpoint only)`,
    );
  }
  if (parent !== null && header.parentId !== parent.id) {
    throw new Error(`transformCheckpoint: expected the parent of ${header.id} to be ${header.parentId ?? 'none'}, received ${parent.id}`);
  }
  const context: StepContext = {
    header,
    parent,
    blobs: input.blobs,
    writes: input.writes,
    channel,
    steps: [],
    nextOrdinal: input.stepsBefore + 1,
  };

  const parentKeys = parent === null ? [] : (input.parentMessageKeys ?? messageKeys(readMessagesAt(parent, context)));
  const ownVersion = header.channelVersions[channel];
  const unchanged =
    parent !== null &&
    ownVersion !== undefined &&
    parent.channelVersions[channel] !== undefined &&
    compareChannelVersions(ownVersion, parent.channelVersions[channel]) === 0 &&
    header.inlineValues?.[channel] === undefined;
  const messages = unchanged ? null : readMessagesAt(header, context);
  const keys = messages === null ? parentKeys : messageKeys(messages);

  if (messages !== null) {
    // Only new messages are normalized: the rest of the list is needed for its ids alone.
    const fresh = newMessageIndexes(keys, parentKeys)
      .map((index) => readMessage(messages[index] as DecodedValue))
      .filter((message): message is ReplayMessage => message !== null);
    if (header.source === 'update') addStateUpdateStep(context, fresh, keys, parentKeys);
    if (fresh.length > 0) addMessageSteps(context, fresh, messages);
  } else if (header.source === 'update') {
    addStateUpdateStep(context, [], keys, parentKeys);
  }
  addWriteSteps(context);
  return {
    checkpointId: header.id,
    parentCheckpointId: header.parentId,
    timestamp: header.ts,
    steps: context.steps,
    messageKeys: keys,
  };
}

/** Computes the steps of consecutive checkpoints (see the module header for what that costs). */
export function transformCheckpointWindow(input: TransformWindowInput): ReplayStep[] {
  return transformCheckpointWindowDetailed(input).flatMap((result) => result.steps);
}

/** Like {@link transformCheckpointWindow}, keeping the steps grouped per checkpoint. */
export function transformCheckpointWindowDetailed(input: TransformWindowInput): CheckpointSteps[] {
  const results: CheckpointSteps[] = [];
  let parent = input.parentOfFirst;
  let parentMessageKeys = input.parentMessageKeys;
  let stepsBefore = input.stepsBefore;
  for (const checkpoint of input.checkpoints) {
    const result = transformCheckpoint({
      checkpoint,
      parent,
      ...(parentMessageKeys === undefined ? {} : { parentMessageKeys }),
      blobs: input.blobs,
      writes: input.writes,
      stepsBefore,
      ...(input.messagesChannel === undefined ? {} : { messagesChannel: input.messagesChannel }),
    });
    results.push(result);
    parent = checkpoint;
    parentMessageKeys = result.messageKeys;
    stepsBefore += result.steps.length;
  }
  return results;
}

/** Input of {@link transformThread}: every checkpoint of one (thread, namespace) with all of its rows. */
export interface TransformThreadInput extends TransformOptions {
  checkpoints: readonly CheckpointRow[];
  blobs: CheckpointBlobStore;
  writes: CheckpointWriteStore;
}

/** Computes all steps of one (thread, namespace), following the lineage of its newest checkpoint. */
export function transformThread(input: TransformThreadInput): ReplayStep[] {
  return transformCheckpointWindow({
    ...input,
    checkpoints: orderCheckpointLineage(input.checkpoints),
    parentOfFirst: null,
    stepsBefore: 0,
  });
}

/** The rows a window needs, so a caller can load exactly those and nothing else. */
export interface WindowRowKeys {
  /** Checkpoint ids whose `checkpoint_writes` rows are needed (the parent of the first, then the window). */
  writeCheckpointIds: string[];
  /** `messages` blobs to load with their bytes (one per distinct version). */
  messageBlobs: BlobKey[];
  /** Trigger channel blobs (`__start__`, `branch:to:*`, `join:*`) of which only the `type` column is needed. */
  triggerBlobTypes: BlobKey[];
  /**
   * `__pregel_tasks` blobs. Optional: they are read only as a fallback when a Send task cannot be matched by node
   * name, and they are large (each Send carries a copy of the state).
   */
  sendTaskBlobs: BlobKey[];
}

/** Lists the blob and write rows needed to transform a window of checkpoints. */
export function blobKeysForWindow(
  checkpoints: readonly CheckpointRow[],
  parentOfFirst: CheckpointRow | null,
  options: TransformOptions = {},
): WindowRowKeys {
  const channel = options.messagesChannel ?? SpecialChannel.messages;
  const rows = parentOfFirst === null ? [...checkpoints] : [parentOfFirst, ...checkpoints];
  const messageBlobs = new Map<string, BlobKey>();
  const triggerBlobTypes = new Map<string, BlobKey>();
  const sendTaskBlobs = new Map<string, BlobKey>();
  for (const row of rows) {
    const header = readCheckpointHeader(row);
    for (const [name, version] of Object.entries(header.channelVersions)) {
      const key = { channel: name, version: versionKey(version) };
      const mapKey = `${name}\u0000${key.version}`;
      if (name === channel) messageBlobs.set(mapKey, key);
      else if (name === SpecialChannel.tasks) sendTaskBlobs.set(mapKey, key);
      else if (name === SpecialChannel.start || name.startsWith('branch:to:') || name.startsWith('join:')) {
        triggerBlobTypes.set(mapKey, key);
      }
    }
  }
  return {
    writeCheckpointIds: rows.map((row) => row.checkpointId),
    messageBlobs: [...messageBlobs.values()],
    triggerBlobTypes: [...triggerBlobTypes.values()],
    sendTaskBlobs: [...sendTaskBlobs.values()],
  };
}

interface StepContext {
  header: CheckpointHeader;
  parent: CheckpointHeader | null;
  blobs: CheckpointBlobStore;
  writes: CheckpointWriteStore;
  channel: string;
  steps: ReplayStep[];
  nextOrdinal: number;
}

type StepFields = Partial<Omit<ReplayStep, 'ordinal' | 'timestamp' | 'checkpointId' | 'namespace' | 'type'>>;

function pushStep(context: StepContext, type: ReplayStepType, fields: StepFields, durationMs: number | null): void {
  context.steps.push({
    ordinal: context.nextOrdinal,
    type,
    timestamp: context.header.ts,
    durationMs,
    node: null,
    checkpointId: context.header.id,
    namespace: context.header.namespace,
    taskId: null,
    messageId: null,
    content: null,
    toolName: null,
    toolCallId: null,
    params: null,
    result: null,
    status: null,
    reasoning: null,
    tokens: null,
    model: null,
    interruptId: null,
    ...fields,
  });
  context.nextOrdinal += 1;
}

function superstepDurationMs(context: StepContext): number | null {
  if (context.parent === null) return null;
  return Date.parse(context.header.ts) - Date.parse(context.parent.ts);
}

/** The decoded (not yet normalized) message list of a checkpoint's messages channel: inline value or blob. */
function readMessagesAt(header: CheckpointHeader, context: StepContext): readonly DecodedValue[] {
  const inline = header.inlineValues?.[context.channel];
  const decoded =
    inline !== undefined
      ? reviveLangChainJson(inline)
      : header.channelVersions[context.channel] === undefined
        ? []
        : context.blobs.read(context.channel, header.channelVersions[context.channel] as ChannelVersion);
  return Array.isArray(decoded) ? decoded : [];
}

/** Lists made by {@link messagesPrefix}, with the list they are the first messages of. */
const prefixSources = new WeakMap<readonly DecodedValue[], readonly DecodedValue[]>();

/**
 * The first `count` messages of a decoded list, as a list the transformer knows to be a prefix of it: the keys of such
 * lists are slices of the longer list's keys, and the new messages of one over another are found without rescanning
 * the messages they share (a window of a long thread would otherwise hash its whole list once per checkpoint).
 */
export function messagesPrefix(messages: readonly DecodedValue[], count: number): DecodedValue[] {
  const prefix = messages.slice(0, count);
  prefixSources.set(prefix, prefixSources.get(messages) ?? messages);
  return prefix;
}

const messageKeysCache = new WeakMap<readonly DecodedValue[], string[]>();

/** The keys of the longest list that a key list is a prefix of (itself when it is not known to be one). */
const keyRoots = new WeakMap<readonly string[], readonly string[]>();

/** Position of the first occurrence of each key of a root key list (built once per root). */
const firstPositions = new WeakMap<readonly string[], Map<string, number>>();

/** Identity of each message in a list: its id, or its position when it has none (cached per decoded list). */
function messageKeys(messages: readonly DecodedValue[]): string[] {
  const cached = messageKeysCache.get(messages);
  if (cached !== undefined) return cached;
  const source = prefixSources.get(messages);
  let keys: string[];
  if (source !== undefined && source.length >= messages.length) {
    // A position key (`#index`) is the same in a prefix as in its source.
    const root = messageKeys(source);
    keys = root.slice(0, messages.length);
    keyRoots.set(keys, root);
  } else {
    keys = messages.map((message, index) => (isDecodedObject(message) && typeof message.id === 'string' ? message.id : `#${index}`));
  }
  messageKeysCache.set(messages, keys);
  return keys;
}

/** Positions in `keys` of the messages whose key is not among `parentKeys`, in order. */
function newMessageIndexes(keys: readonly string[], parentKeys: readonly string[]): number[] {
  const root = keyRoots.get(keys) ?? keys;
  const indexes: number[] = [];
  if (parentKeys.length <= keys.length && (keyRoots.get(parentKeys) ?? parentKeys) === root) {
    // Both are prefixes of one key list: the parent's keys are the first ones, and a later key is the parent's when it
    // first occurs among them.
    let first = firstPositions.get(root);
    if (first === undefined) {
      first = new Map();
      for (let index = root.length - 1; index >= 0; index -= 1) first.set(root[index] as string, index);
      firstPositions.set(root, first);
    }
    for (let index = parentKeys.length; index < keys.length; index += 1) {
      if ((first.get(keys[index] as string) as number) >= parentKeys.length) indexes.push(index);
    }
    return indexes;
  }
  const known = new Set(parentKeys);
  keys.forEach((key, index) => {
    if (!known.has(key)) indexes.push(index);
  });
  return indexes;
}

/** Which task (and node) wrote each new message, from the tasks planned at the parent and their writes. */
interface Attribution {
  node: string | null;
  taskId: string | null;
}

function attributeMessages(context: StepContext, fresh: readonly ReplayMessage[]): Attribution[] {
  const { parent, header } = context;
  if (parent === null) return fresh.map(() => ({ node: null, taskId: null }));
  const parentWrites = context.writes.at(parent.id);
  if (header.source === 'update') {
    const attribution = updateAttribution(context);
    return fresh.map(() => attribution);
  }
  if (header.source !== 'loop') return fresh.map(() => ({ node: null, taskId: null }));
  const writeTaskIds = new Set(parentWrites.map((write) => write.taskId));
  const tasks = planTasksFrom(parent, context.blobs, writeTaskIds, [...nodeNamesOf(parent), ...nodeNamesOf(header)]);
  const nodes = [...new Set(tasks.map((task) => task.node))];
  const onlyNode = nodes.length === 1 ? (nodes[0] as string) : null;
  if (tasks.length === 1) {
    // LangGraph Python hashes task ids differently: keep the node, but only claim a task id the writes confirm.
    const taskId = (tasks[0] as PlannedTask).taskId;
    return fresh.map(() => ({ node: onlyNode, taskId: writeTaskIds.has(taskId) ? taskId : null }));
  }
  const byKey = messageKeysWrittenByTask(context, tasks, parentWrites);
  return fresh.map((message) => {
    const task = writtenMessageKeys(message)
      .map((key) => byKey.get(key))
      .find((found) => found !== undefined);
    return task === undefined ? { node: onlyNode, taskId: null } : { node: task.node, taskId: task.taskId };
  });
}

/** Decodes the messages writes of the planned tasks and indexes them by message identity. */
function messageKeysWrittenByTask(
  context: StepContext,
  tasks: readonly PlannedTask[],
  writes: ReturnType<CheckpointWriteStore['at']>,
): Map<string, PlannedTask> {
  const taskById = new Map(tasks.map((task) => [task.taskId, task]));
  const byKey = new Map<string, PlannedTask>();
  for (const write of writes) {
    const task = taskById.get(write.taskId);
    if (task === undefined || write.channel !== context.channel) continue;
    const value = context.writes.read(write);
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      const message = readMessage(item);
      if (message === null) continue;
      for (const key of writtenMessageKeys(message)) if (!byKey.has(key)) byKey.set(key, task);
    }
  }
  return byKey;
}

/** Keys that identify a message across a write and a blob (writes may lack the id the reducer adds). */
function writtenMessageKeys(message: ReplayMessage): string[] {
  const keys: string[] = [];
  if (message.id !== null) keys.push(`id:${message.id}`);
  if (message.role === 'tool' && message.toolCallId !== null) keys.push(`tool:${message.toolCallId}`);
  for (const call of message.toolCalls) if (call.id !== null) keys.push(`call:${call.id}`);
  keys.push(`text:${message.role}:${message.text}`);
  return keys;
}

/**
 * The task of an `updateState` (its synthetic id, written under the parent) and its `asNode`, which the rows only
 * reveal when the node's writers wrote a conditional branch (whose value is the source node's name).
 */
function updateAttribution(context: StepContext): Attribution {
  if (context.parent === null) return { node: null, taskId: null };
  const updateIds = new Set(updateTaskIdsOf(context.parent.id));
  const updateWrites = context.writes.at(context.parent.id).filter((write) => updateIds.has(write.taskId));
  let node: string | null = null;
  for (const write of updateWrites) {
    if (!write.channel.startsWith('branch:to:')) continue;
    const value = context.writes.read(write);
    if (typeof value === 'string') node = value;
  }
  return { node, taskId: updateWrites[0]?.taskId ?? null };
}

function addStateUpdateStep(
  context: StepContext,
  fresh: readonly ReplayMessage[],
  keys: readonly string[],
  parentKeys: readonly string[],
): void {
  const { header, parent } = context;
  const present = new Set(keys);
  const removedMessageIds = parentKeys.filter((key) => !present.has(key));
  const changedChannels = Object.entries(header.channelVersions)
    .filter(([name, version]) => {
      if (name.startsWith('branch:') || name.startsWith('__')) return false;
      const before = parent?.channelVersions[name];
      return before === undefined || compareChannelVersions(version, before) !== 0;
    })
    .map(([name]) => name);
  const attribution = updateAttribution(context);
  const parts = [
    fresh.length > 0 ? `added ${fresh.length} message${fresh.length === 1 ? '' : 's'}` : null,
    removedMessageIds.length > 0 ? `removed ${removedMessageIds.length}` : null,
    changedChannels.length > 0 ? `channels: ${changedChannels.join(', ')}` : null,
  ].filter((part): part is string => part !== null);
  pushStep(
    context,
    'STATE_UPDATE',
    {
      node: attribution.node,
      taskId: attribution.taskId,
      content: `State updated${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`,
      params: {
        asNode: attribution.node,
        changedChannels,
        addedMessageIds: fresh.map((message) => message.id),
        removedMessageIds,
      },
    },
    superstepDurationMs(context),
  );
}

function addMessageSteps(context: StepContext, fresh: readonly ReplayMessage[], all: readonly DecodedValue[]): void {
  const duration = superstepDurationMs(context);
  const attributions = attributeMessages(context, fresh);
  fresh.forEach((message, index) => {
    const { node, taskId } = attributions[index] as Attribution;
    const base = { node, taskId, messageId: message.id };
    switch (message.role) {
      case 'human':
        pushStep(context, 'USER_MESSAGE', { ...base, content: message.text }, duration);
        return;
      case 'tool': {
        const call = findToolCall(all, message.toolCallId);
        pushStep(
          context,
          'TOOL_RESULT',
          {
            ...base,
            content: message.text,
            result: message.content ?? null,
            toolName: message.toolName ?? call?.name ?? null,
            toolCallId: message.toolCallId,
            params: call?.args ?? null,
            status: message.status,
          },
          duration,
        );
        return;
      }
      case 'ai':
        addAssistantSteps(context, message, base, duration);
        return;
      default:
        // System and other messages are context, not conversation turns; the step types have no place for them.
        return;
    }
  });
}

function addAssistantSteps(context: StepContext, message: ReplayMessage, base: StepFields, duration: number | null): void {
  const shared = { ...base, model: message.model };
  let usage: TokenUsage | null = message.usage;
  const takeUsage = () => {
    const tokens = usage;
    usage = null;
    return tokens;
  };
  if (message.reasoning !== null) {
    pushStep(context, 'REASONING', { ...shared, reasoning: message.reasoning, tokens: takeUsage() }, duration);
  }
  if (message.text !== '' || (message.toolCalls.length === 0 && message.reasoning === null)) {
    pushStep(context, 'ASSISTANT_MESSAGE', { ...shared, content: message.text, tokens: takeUsage() }, duration);
  }
  for (const call of message.toolCalls) {
    pushStep(
      context,
      'TOOL_CALL',
      {
        ...shared,
        toolName: call.name,
        toolCallId: call.id,
        params: call.args ?? null,
        tokens: takeUsage(),
        ...(call.error === null ? {} : { status: 'error' as const, content: call.error }),
      },
      duration,
    );
  }
}

/** The tool call a tool result answers, searched newest first; only a message that has it is normalized. */
function findToolCall(messages: readonly DecodedValue[], toolCallId: string | null) {
  if (toolCallId === null) return undefined;
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const raw = messages[index] as DecodedValue;
    if (!mentionsToolCall(raw, toolCallId)) continue;
    const call = readMessage(raw)?.toolCalls.find((candidate) => candidate.id === toolCallId);
    if (call !== undefined) return call;
  }
  return undefined;
}

function mentionsToolCall(raw: DecodedValue, toolCallId: string): boolean {
  if (!isDecodedObject(raw)) return false;
  const additional = raw.additional_kwargs;
  return [raw.tool_calls, raw.invalid_tool_calls, isDecodedObject(additional) ? additional.tool_calls : undefined].some(
    (list) => Array.isArray(list) && list.some((call) => isDecodedObject(call) && call.id === toolCallId),
  );
}

const STEP_WRITE_CHANNELS: ReadonlySet<string> = new Set([SpecialChannel.interrupt, SpecialChannel.resume, SpecialChannel.error]);

/** INTERRUPT, RESUME and ERROR steps from the writes stored under the checkpoint itself. */
function addWriteSteps(context: StepContext): void {
  const writes = context.writes.at(context.header.id).filter((write) => STEP_WRITE_CHANNELS.has(write.channel));
  if (writes.length === 0) return;
  const tasks = planTasksFrom(
    context.header,
    context.blobs,
    new Set(context.writes.at(context.header.id).map((write) => write.taskId)),
    nodeNamesOf(context.header),
  );
  const nodes = [...new Set(tasks.map((task) => task.node))];
  const nodeOf = (taskId: string) =>
    tasks.find((task) => task.taskId === taskId)?.node ?? (nodes.length === 1 ? (nodes[0] as string) : null);

  const interruptIdsByTask = new Map<string, string[]>();
  for (const write of writes.filter((candidate) => candidate.channel === SpecialChannel.interrupt)) {
    for (const interrupt of asList(context.writes.read(write))) {
      const { id, value } = readInterrupt(interrupt);
      interruptIdsByTask.set(write.taskId, [...(interruptIdsByTask.get(write.taskId) ?? []), ...(id === null ? [] : [id])]);
      pushStep(
        context,
        'INTERRUPT',
        { node: nodeOf(write.taskId), taskId: write.taskId, interruptId: id, params: value, content: describeValue(value) },
        null,
      );
    }
  }

  const resumes = writes.filter((write) => write.channel === SpecialChannel.resume);
  const taskResumes = resumes.filter((write) => write.taskId !== NULL_TASK_ID);
  // The null-task write holds the raw Command.resume value; each resumed task also records what it consumed.
  for (const write of taskResumes.length > 0 ? taskResumes : resumes) {
    const decoded = context.writes.read(write);
    const value = write.taskId !== NULL_TASK_ID && Array.isArray(decoded) && decoded.length === 1 ? decoded[0] : decoded;
    const interruptIds = interruptIdsByTask.get(write.taskId) ?? [];
    pushStep(
      context,
      'RESUME',
      {
        node: write.taskId === NULL_TASK_ID ? null : nodeOf(write.taskId),
        taskId: write.taskId === NULL_TASK_ID ? null : write.taskId,
        interruptId: interruptIds.length === 1 ? (interruptIds[0] as string) : null,
        params: value ?? null,
        content: describeValue(value),
      },
      null,
    );
  }

  for (const write of writes.filter((candidate) => candidate.channel === SpecialChannel.error)) {
    const error = readError(context.writes.read(write));
    pushStep(
      context,
      'ERROR',
      { node: nodeOf(write.taskId), taskId: write.taskId, content: error.message, result: error, status: 'error' },
      null,
    );
  }
}

function readInterrupt(value: DecodedValue): { id: string | null; value: DecodedValue } {
  if (isDecodedObject(value) && 'value' in value) {
    const id = value.id ?? value.interrupt_id;
    return { id: typeof id === 'string' ? id : null, value: value.value ?? null };
  }
  return { id: null, value: value ?? null };
}

/** `{name, message}` of an `__error__` write (JS writes an object, Python the exception's repr string). */
function readError(value: DecodedValue): { name: string; message: string } {
  if (isDecodedObject(value)) {
    return {
      name: typeof value.name === 'string' ? value.name : 'Error',
      message: typeof value.message === 'string' ? value.message : JSON.stringify(value),
    };
  }
  if (typeof value === 'string') {
    const match = /^(\w+)\(['"]?(.*?)['"]?\)$/s.exec(value);
    return match === null ? { name: 'Error', message: value } : { name: match[1] as string, message: match[2] as string };
  }
  return { name: 'Error', message: String(value) };
}

function describeValue(value: DecodedValue): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function asList(value: DecodedValue): DecodedValue[] {
  return Array.isArray(value) ? value : [value];
}
