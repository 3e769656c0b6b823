/**
 * The rows of LangGraph's checkpoint tables as the replay engine reads them, and the small amount of LangGraph
 * knowledge needed to interpret them: checkpoint headers, the parent chain, channel versions, and the deterministic
 * task ids LangGraph.js gives the tasks it runs from a checkpoint.
 *
 * Field names follow the Prisma models (LangGraphCheckpoint, LangGraphCheckpointBlob, LangGraphCheckpointWrite), so
 * Prisma rows can be passed as they are; plain `pg` callers alias the snake_case columns.
 */
import { createHash } from 'node:crypto';
import { decodeEncodedValue, isDecodedObject, type DecodedValue, type EncodedValue } from './checkpoint.decoder';

/** A row of `checkpoints` (the checkpoint and metadata columns are JSONB, already parsed). */
export interface CheckpointRow {
  threadId?: string;
  checkpointNs: string;
  checkpointId: string;
  parentCheckpointId: string | null;
  checkpoint: unknown;
  metadata: unknown;
}

/**
 * A row of `checkpoint_blobs`. `blob` may be left out (undefined) when only the `type` column was selected, which is
 * all the engine needs for trigger channels.
 */
export interface BlobRow {
  channel: string;
  version: string;
  type: string;
  blob?: Uint8Array | null;
}

/** A row of `checkpoint_writes`. */
export interface WriteRow {
  checkpointId: string;
  taskId: string;
  idx: number;
  channel: string;
  type: string | null;
  blob: Uint8Array;
}

/** A channel version: an integer in LangGraph.js, a zero-padded string in LangGraph Python. */
export type ChannelVersion = number | string;

/** The parsed, validated parts of a checkpoint row that the replay engine uses. */
export interface CheckpointHeader {
  id: string;
  parentId: string | null;
  namespace: string;
  /** ISO-8601 time the superstep finished (`checkpoint.ts`). */
  ts: string;
  step: number;
  source: string;
  channelVersions: Readonly<Record<string, ChannelVersion>>;
  versionsSeen: Readonly<Record<string, Readonly<Record<string, ChannelVersion>>>>;
  /** Values stored inline in the checkpoint JSON (LangGraph Python may keep primitive values there). */
  inlineValues: Readonly<Record<string, unknown>> | null;
}

/** Thrown when a checkpoint row does not have the shape PostgresSaver writes. */
export class CheckpointFormatError extends Error {
  override readonly name = 'CheckpointFormatError';
}

/** Task id LangGraph writes for the null task (`Command.resume` values and other graph-level writes). */
export const NULL_TASK_ID = '00000000-0000-0000-0000-000000000000';

/** Channels LangGraph reserves for writes that are not channel updates. */
export const SpecialChannel = {
  error: '__error__',
  interrupt: '__interrupt__',
  resume: '__resume__',
  scheduled: '__scheduled__',
  tasks: '__pregel_tasks',
  start: '__start__',
  messages: 'messages',
} as const;

/** Parses and validates the `checkpoint` and `metadata` JSON of a row. */
export function readCheckpointHeader(row: CheckpointRow): CheckpointHeader {
  const checkpoint = asRecord(row.checkpoint, `checkpoint ${row.checkpointId}: column "checkpoint"`);
  const metadata = asRecord(row.metadata ?? {}, `checkpoint ${row.checkpointId}: column "metadata"`);
  const ts = checkpoint.ts;
  if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts))) {
    throw new CheckpointFormatError(
      `checkpoint ${row.checkpointId}: expected "ts" to be an ISO-8601 string, received ${JSON.stringify(ts)}`,
    );
  }
  return {
    id: row.checkpointId,
    parentId: row.parentCheckpointId ?? null,
    namespace: row.checkpointNs ?? '',
    ts: new Date(ts).toISOString(),
    step: typeof metadata.step === 'number' ? metadata.step : -1,
    source: typeof metadata.source === 'string' ? metadata.source : 'loop',
    channelVersions: readVersions(checkpoint.channel_versions),
    versionsSeen: Object.fromEntries(
      Object.entries(asOptionalRecord(checkpoint.versions_seen)).map(([node, seen]) => [node, readVersions(seen)]),
    ),
    inlineValues: isRecord(checkpoint.channel_values) ? checkpoint.channel_values : null,
  };
}

/** Orders the checkpoints of one (thread, namespace) as the lineage of its newest checkpoint, oldest first. */
export function orderCheckpointLineage<Row extends CheckpointRow>(rows: readonly Row[]): Row[] {
  if (rows.length === 0) return [];
  const byId = new Map(rows.map((row) => [row.checkpointId, row]));
  // Checkpoint ids are uuid6 with a monotonic clock, so the greatest id is the newest checkpoint.
  let head = rows[0] as Row;
  for (const row of rows) if (row.checkpointId > head.checkpointId) head = row;
  const lineage: Row[] = [];
  const visited = new Set<string>();
  for (let row: Row | undefined = head; row !== undefined; row = byId.get(row.parentCheckpointId ?? '')) {
    if (visited.has(row.checkpointId)) {
      throw new CheckpointFormatError(`checkpoint ${row.checkpointId} is its own ancestor (a parent cycle)`);
    }
    visited.add(row.checkpointId);
    lineage.push(row);
    if (row.parentCheckpointId === null) break;
  }
  return lineage.reverse();
}

/** Compares two channel versions (numbers numerically, Python's zero-padded strings lexically). */
export function compareChannelVersions(left: ChannelVersion, right: ChannelVersion): number {
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  const [a, b] = [String(left), String(right)];
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The `checkpoint_blobs.version` text of a channel version. */
export function versionKey(version: ChannelVersion): string {
  return String(version);
}

/** Identifies a blob row inside one (thread, namespace). */
export interface BlobKey {
  channel: string;
  version: string;
}

/** Decoding function used by a {@link CheckpointBlobStore}; replaceable in tests to observe decodes. */
export type BlobDecodeFunction = (value: EncodedValue) => DecodedValue;

/**
 * The blob rows of one (thread, namespace) that a caller loaded, with lazy decoding: a blob is decoded the first time
 * it is read and cached, and {@link decodeCount} tells how many decodes happened.
 */
export class CheckpointBlobStore {
  private readonly rows = new Map<string, BlobRow>();
  private readonly decoded = new Map<string, DecodedValue>();
  private decodes = 0;

  constructor(
    rows: Iterable<BlobRow> = [],
    private readonly decode: BlobDecodeFunction = decodeEncodedValue,
  ) {
    this.add(rows);
  }

  /** Adds (or replaces) rows; a row with blob data replaces a type-only row of the same key. */
  add(rows: Iterable<BlobRow>): void {
    for (const row of rows) {
      const key = blobStoreKey(row.channel, row.version);
      const existing = this.rows.get(key);
      if (existing !== undefined && existing.blob !== undefined && row.blob === undefined) continue;
      this.rows.set(key, row);
      this.decoded.delete(key);
    }
  }

  /** Number of blobs decoded so far. */
  get decodeCount(): number {
    return this.decodes;
  }

  /** The `type` column of a blob row, or undefined when that row was not loaded. */
  typeOf(channel: string, version: ChannelVersion): string | undefined {
    return this.rows.get(blobStoreKey(channel, versionKey(version)))?.type;
  }

  /** Whether the row's bytes were loaded (not only its type). */
  hasData(channel: string, version: ChannelVersion): boolean {
    const row = this.rows.get(blobStoreKey(channel, versionKey(version)));
    return row !== undefined && (row.blob !== undefined || row.type === 'empty');
  }

  /** The decoded value of a blob (undefined when `empty`); throws when the row or its bytes were not loaded. */
  read(channel: string, version: ChannelVersion): DecodedValue {
    const key = blobStoreKey(channel, versionKey(version));
    if (this.decoded.has(key)) return this.decoded.get(key);
    const row = this.rows.get(key);
    if (row === undefined || (row.blob === undefined && row.type !== 'empty')) {
      throw new CheckpointFormatError(
        `blob "${channel}" version ${versionKey(version)} is needed but was not loaded${row === undefined ? '' : ' (only its type was)'}`,
      );
    }
    if (row.type === 'empty') return undefined;
    this.decodes += 1;
    const value = this.decode({ type: row.type, blob: row.blob ?? null });
    this.decoded.set(key, value);
    return value;
  }
}

/** Decodes write rows lazily and caches them, counting decodes like {@link CheckpointBlobStore}. */
export class CheckpointWriteStore {
  private readonly byCheckpoint = new Map<string, WriteRow[]>();
  private readonly decoded = new Map<WriteRow, DecodedValue>();
  private decodes = 0;

  constructor(
    rows: Iterable<WriteRow> = [],
    private readonly decode: BlobDecodeFunction = decodeEncodedValue,
  ) {
    for (const row of rows) {
      const list = this.byCheckpoint.get(row.checkpointId) ?? [];
      list.push(row);
      this.byCheckpoint.set(row.checkpointId, list);
    }
    for (const list of this.byCheckpoint.values()) {
      list.sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : a.idx - b.idx));
    }
  }

  /** Number of write blobs decoded so far. */
  get decodeCount(): number {
    return this.decodes;
  }

  /** The write rows stored under a checkpoint, ordered by task id then idx. */
  at(checkpointId: string): readonly WriteRow[] {
    return this.byCheckpoint.get(checkpointId) ?? [];
  }

  /** The decoded value of a write row. */
  read(row: WriteRow): DecodedValue {
    if (this.decoded.has(row)) return this.decoded.get(row);
    this.decodes += 1;
    const value = this.decode({ type: row.type, blob: row.blob });
    this.decoded.set(row, value);
    return value;
  }
}

/** A task LangGraph ran (or will run) from a checkpoint, with the id LangGraph.js gives it. */
export interface PlannedTask {
  taskId: string;
  node: string;
  kind: 'pull' | 'push';
}

/**
 * The tasks LangGraph.js runs from a checkpoint: every node whose trigger channel (`__start__`, `branch:to:X`,
 * `join:…:X`) has a non-empty version newer than the node has seen (PULL tasks), plus the Send targets of the
 * `__pregel_tasks` channel (PUSH tasks) that wrote something. Task ids are LangGraph.js's uuid5 of the task path, so
 * they match `checkpoint_writes.task_id`; LangGraph Python hashes differently, so its ids will not match (node names
 * still do). `writeTaskIds` are the task ids of the writes stored under the checkpoint.
 */
export function planTasksFrom(
  header: CheckpointHeader,
  blobs: CheckpointBlobStore,
  writeTaskIds: ReadonlySet<string>,
  knownNodes: Iterable<string>,
): PlannedTask[] {
  const step = String(header.step + 1);
  const tasks: PlannedTask[] = [];
  const triggersByNode = new Map<string, string[]>();
  for (const [channel, version] of Object.entries(header.channelVersions)) {
    const node = triggeredNodeOf(channel);
    if (node === null) continue;
    const seen = header.versionsSeen[node]?.[channel];
    if (seen !== undefined && compareChannelVersions(version, seen) <= 0) continue;
    if (inlineOrBlobType(header, blobs, channel, version) === 'empty') continue;
    triggersByNode.set(node, [...(triggersByNode.get(node) ?? []), channel]);
  }
  for (const [node, triggers] of triggersByNode) {
    // LangGraph uses the first trigger in the node's own order, which the rows do not record: try each.
    const ids = triggers.map((trigger) =>
      taskUuid([taskNamespace(header.namespace, node), step, node, '__pregel_pull', [trigger]], header.id),
    );
    tasks.push({ taskId: ids.find((id) => writeTaskIds.has(id)) ?? (ids[0] as string), node, kind: 'pull' });
  }
  const explained = new Set([...tasks.map((task) => task.taskId), NULL_TASK_ID, ...updateTaskIdsOf(header.id)]);
  const unexplained = new Set([...writeTaskIds].filter((taskId) => !explained.has(taskId)));
  tasks.push(...planPushTasks(header, blobs, knownNodes, unexplained, step));
  return tasks;
}

/** The synthetic task ids `updateState` gives its writes under a checkpoint (one per update in a superstep). */
export function updateTaskIdsOf(checkpointId: string, count = 4): string[] {
  return Array.from({ length: count }, (_, index) => uuid5(index === 0 ? '__interrupt__' : `__interrupt__:${index}`, checkpointId));
}

/** Node names mentioned by a checkpoint (versions_seen keys and trigger channels), for matching Send task ids. */
export function nodeNamesOf(header: CheckpointHeader): string[] {
  const names = new Set<string>();
  for (const node of Object.keys(header.versionsSeen)) if (!node.startsWith('__')) names.add(node);
  for (const channel of Object.keys(header.channelVersions)) {
    const node = triggeredNodeOf(channel);
    if (node !== null && !node.startsWith('__')) names.add(node);
  }
  return [...names];
}

/** Send (PUSH) tasks: matched by trying known node names, then by reading `__pregel_tasks` if it was loaded. */
function planPushTasks(
  header: CheckpointHeader,
  blobs: CheckpointBlobStore,
  knownNodes: Iterable<string>,
  unexplainedTaskIds: ReadonlySet<string>,
  step: string,
): PlannedTask[] {
  const version = header.channelVersions[SpecialChannel.tasks];
  if (version === undefined || unexplainedTaskIds.size === 0) return [];
  const pushId = (node: string, index: number) =>
    taskUuid([taskNamespace(header.namespace, node), step, node, '__pregel_push', String(index)], header.id);
  const found: PlannedTask[] = [];
  const remaining = new Set(unexplainedTaskIds);
  // Guessing avoids decoding `__pregel_tasks`, which repeats the whole state once per Send.
  const maxIndex = Math.max(64, remaining.size * 2);
  for (const node of new Set(knownNodes)) {
    for (let index = 0; index < maxIndex && remaining.size > 0; index += 1) {
      const taskId = pushId(node, index);
      if (remaining.delete(taskId)) found.push({ taskId, node, kind: 'push' });
    }
  }
  if (remaining.size > 0 && blobs.hasData(SpecialChannel.tasks, version)) {
    const packets = blobs.read(SpecialChannel.tasks, version);
    if (Array.isArray(packets)) {
      packets.forEach((packet, index) => {
        const node = isDecodedObject(packet) ? packet.node : undefined;
        if (typeof node !== 'string') return;
        const taskId = pushId(node, index);
        if (remaining.delete(taskId)) found.push({ taskId, node, kind: 'push' });
      });
    }
  }
  return found;
}

/** The node a trigger channel wakes up, or null for other channels. */
function triggeredNodeOf(channel: string): string | null {
  if (channel === SpecialChannel.start) return SpecialChannel.start;
  if (channel.startsWith('branch:to:')) return channel.slice('branch:to:'.length);
  if (channel.startsWith('join:')) {
    const target = channel.slice(channel.lastIndexOf(':') + 1);
    return target === '' ? null : target;
  }
  return null;
}

function inlineOrBlobType(
  header: CheckpointHeader,
  blobs: CheckpointBlobStore,
  channel: string,
  version: ChannelVersion,
): string | undefined {
  if (header.inlineValues !== null && channel in header.inlineValues) return 'inline';
  return blobs.typeOf(channel, version);
}

function taskNamespace(parentNamespace: string, node: string): string {
  return parentNamespace === '' ? node : `${parentNamespace}|${node}`;
}

function taskUuid(path: unknown[], checkpointId: string): string {
  return uuid5(JSON.stringify(path), checkpointId);
}

/** RFC 4122 version-5 UUID (SHA-1 of namespace bytes + name), as LangGraph.js computes task ids. */
export function uuid5(name: string, namespace: string): string {
  const namespaceHex = namespace.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(namespaceHex)) return '';
  const hash = createHash('sha1').update(Buffer.from(namespaceHex, 'hex')).update(name, 'utf8').digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function blobStoreKey(channel: string, version: string): string {
  return `${channel}\u0000${version}`;
}

function readVersions(value: unknown): Record<string, ChannelVersion> {
  const versions: Record<string, ChannelVersion> = {};
  for (const [channel, version] of Object.entries(asOptionalRecord(value))) {
    if (typeof version === 'number' || typeof version === 'string') versions[channel] = version;
  }
  return versions;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asOptionalRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  const parsed = typeof value === 'string' ? safeJsonParse(value) : value;
  if (!isRecord(parsed)) {
    throw new CheckpointFormatError(`${what}: expected a JSON object, received ${describe(parsed)}`);
  }
  return parsed;
}

function safeJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
