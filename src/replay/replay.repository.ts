/**
 * Storage of replays: the persisted step index (`conversation_step_index`, one row per checkpoint of a (thread,
 * namespace) lineage) and the reads of checkpoint windows.
 *
 * A replay page costs three statements wherever it sits in the thread: (1) the index rows holding the requested
 * ordinals, found by keyset on `steps_before` (a running sum of matching steps picks the fewest rows; no OFFSET), joined
 * with their checkpoint rows, the parent of the first one and the freshness of the index; (2) the `messages` and trigger
 * blobs of those checkpoints ({@link blobKeysForWindow}); (3) their writes.
 *
 * Every `messages` blob holds the whole list, so the blobs near the end of a long thread are large. Within a run
 * LangGraph appends to the list, so a checkpoint's blob usually extends its parent's byte for byte (across runs it does
 * not: reloaded messages serialize a little differently). A window therefore loads and parses only the newest list of
 * each stretch of extending checkpoints, and serves every other list as the first N messages of it once the sizes and
 * digests stored in the index prove its bytes a prefix; a list they do not prove (e.g. after a message was removed) is
 * loaded by one more statement and parsed on its own.
 *
 * When the index is missing or behind the newest checkpoint of the namespace (sync not run yet, or a write landed
 * since), the namespace is indexed on demand under the same per-thread lock the sync takes, and the page is read again:
 * always correct, and three statements once fresh.
 *
 * Functions taking a {@link TenantContext} are the API's: they reach the index only through a conversation of the
 * caller's tenant. Functions taking a {@link DbClient} are system-level (the sync job, and the on-demand index after the
 * tenant check) and must only be called for threads whose tenant was checked or that are not exposed.
 */
import { createHash } from 'node:crypto';
import { Prisma, type DatabaseClient } from '../db/client';
import type { ConversationStepIndex } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { decodeEncodedValue, type DecodedValue } from './checkpoint.decoder';
import {
  CheckpointBlobStore,
  CheckpointFormatError,
  CheckpointWriteStore,
  SpecialChannel,
  readCheckpointHeader,
  versionKey,
  type BlobRow,
  type CheckpointRow,
} from './checkpoint.rows';
import { messagesCacheKey, messagesCacheOf, messagesCacheSize, type ByteBoundedCache } from './replay.cache';
import { stepIndexEntriesOf, type StepIndexEntry } from './replay.step-index';
import {
  blobKeysForWindow,
  messagesPrefix,
  transformCheckpointWindow,
  transformCheckpointWindowDetailed,
  type CheckpointSteps,
  type ReplayStep,
  type ReplayStepType,
} from './replay.transformer';

/** The Prisma client or an interactive transaction of it. */
export type DbClient = DatabaseClient | Prisma.TransactionClient;

/** Checkpoints transformed per chunk while indexing, so a long thread never has all of its blobs in memory. */
const INDEX_CHUNK = 64;

/** Advisory lock class of per-thread sync work (`pg_advisory_xact_lock(class, hashtext(thread_id))`); "conv" in ASCII. */
export const THREAD_LOCK_CLASS = 0x636f6e76;

/** A page of replay steps to read, in the shape of the connection helper's KeysetPage. */
export interface ReplayPageRequest {
  /** Number of matching steps wanted (the page size + 1, to learn whether more follow). */
  want: number;
  /** Read backwards from `cursor` (for `last`/`before`). */
  backward: boolean;
  /** Exclusive ordinal bound: steps after it (forward) or before it (backward); null for the start or the end. */
  cursor: number | null;
  /** Only steps of these types; null or empty for all. */
  types: readonly ReplayStepType[] | null;
}

/** Up to `want` matching steps in reading order (descending ordinals when backward), as toConnection expects. */
export type ReplayPageRows = ReplayStep[];

// ---------------------------------------------------------------------------------------------------------------
// Tenant-scoped reads (the API)

/** The conversation a replay is read through: its database key and LangGraph thread id. */
export interface ReplayConversation {
  key: string;
  threadId: string;
}

/**
 * Reads one page of a conversation's replay in `namespace`: the matching steps past the cursor in reading order.
 * Returns an empty list for a conversation of another tenant (checked in the same statement), a namespace it does not
 * have, or a cursor past the end.
 */
export async function readReplayPage(
  context: TenantContext,
  conversation: ReplayConversation,
  namespace: string,
  request: ReplayPageRequest,
): Promise<ReplayPageRows> {
  const { threadId } = conversation;
  let window = await readWindowRows(context.db.prisma, context.viewer.tenantId, conversation, namespace, request);
  if (window.stale) {
    await context.db.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(${THREAD_LOCK_CLASS}::int, hashtext(${threadId}))::text`;
      await refreshStepIndex(tx, threadId, namespace);
    }, INDEX_TRANSACTION);
    window = await readWindowRows(context.db.prisma, context.viewer.tenantId, conversation, namespace, request);
  }
  if (!window.found || window.checkpoints.length === 0) return [];
  const stores = await loadCheckpointWindow(
    context.db.prisma,
    threadId,
    namespace,
    window.checkpoints,
    window.parent,
    window.facts,
    messagesCacheOf<Anchor>(context.db),
  );
  const steps = transformCheckpointWindow({
    checkpoints: window.checkpoints,
    parentOfFirst: window.parent,
    ...stores,
    stepsBefore: window.stepsBefore,
  });
  return cutPage(steps, request);
}

/** Number of steps (of the given types) in a conversation's namespace, summed from the index without decoding. */
export async function countReplaySteps(
  context: TenantContext,
  conversation: ReplayConversation,
  namespace: string,
  types: readonly ReplayStepType[] | null,
): Promise<number> {
  const [row] = await context.db.prisma.$queryRaw<{ total: number }[]>`
    SELECT COALESCE(SUM(${matchingSteps(types)}), 0)::int AS total
      FROM conversations c
      JOIN conversation_step_index i ON i.thread_id = ${conversation.threadId} AND i.checkpoint_ns = ${namespace}
     WHERE c.id = ${conversation.key}::uuid AND c.tenant_id = ${context.viewer.tenantId} AND c.thread_id = ${conversation.threadId}`;
  return row?.total ?? 0;
}

/** The checkpoint namespaces of the tenant's conversations with these keys ("" first), one grouped statement. */
export async function findNamespacesByConversationKeys(
  context: TenantContext,
  keys: readonly string[],
): Promise<{ key: string; namespaces: string[] }[]> {
  return context.db.prisma.$queryRaw<{ key: string; namespaces: string[] }[]>`
    SELECT c.id::text AS key, array_agg(DISTINCT k.checkpoint_ns ORDER BY k.checkpoint_ns) AS namespaces
      FROM conversations c
      JOIN checkpoints k ON k.thread_id = c.thread_id
     WHERE c.id = ANY(${[...keys]}::uuid[]) AND c.tenant_id = ${context.viewer.tenantId}
     GROUP BY c.id`;
}

// ---------------------------------------------------------------------------------------------------------------
// System-level reads and writes (the sync job, and the on-demand index once the tenant was checked)

/** Interactive transaction options for indexing: the first index of a long thread decodes all of its blobs. */
export const INDEX_TRANSACTION = { maxWait: 30_000, timeout: 300_000 } as const;

/** What {@link refreshStepIndex} did. */
export interface StepIndexRefresh {
  /** The newest checkpoint of the namespace, or null when it has none. */
  headId: string | null;
  /** Steps of the newest checkpoint (interrupts and errors there give the thread's status). */
  headSteps: ReplayStep[];
  /** Checkpoints transformed and (re)written. */
  checkpointsIndexed: number;
  /** True when no indexed ancestor connected to the head, so the namespace was indexed from its first checkpoint. */
  rebuilt: boolean;
  /** The first USER_MESSAGE step among the checkpoints indexed (the thread's first one when `rebuilt`), or null. */
  firstUserMessage: ReplayStep | null;
}

/**
 * Brings the step index of one (thread, namespace) up to the lineage of its newest checkpoint: walks back from the
 * head to the first indexed ancestor X (the previous head, or a fork point), deletes the rows from X on, and indexes X
 * through the head again (X's steps change when interrupt, resume or error writes land under it). Decodes only the
 * `messages` blobs of those checkpoints and of X's parent. Call it inside a transaction holding the thread's lock.
 * `onIndexed` sees the steps of the checkpoints (re)indexed, oldest first, a chunk at a time.
 */
export async function refreshStepIndex(
  client: DbClient,
  threadId: string,
  namespace: string,
  onIndexed?: (checkpoints: readonly CheckpointSteps[]) => void,
): Promise<StepIndexRefresh> {
  const chain = await client.$queryRaw<ChainRow[]>`
    WITH RECURSIVE chain AS (
      SELECT c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, c.metadata, i.steps_before, 0 AS depth,
             (i.checkpoint_id IS NOT NULL)::int AS indexed_seen
        FROM (SELECT * FROM checkpoints WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace}
               ORDER BY checkpoint_id DESC LIMIT 1) c
        LEFT JOIN conversation_step_index i
          ON i.thread_id = ${threadId} AND i.checkpoint_ns = ${namespace} AND i.checkpoint_id = c.checkpoint_id
      UNION ALL
      SELECT p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint, p.metadata, i.steps_before, chain.depth + 1,
             chain.indexed_seen + (i.checkpoint_id IS NOT NULL)::int
        FROM chain
        JOIN checkpoints p
          ON p.thread_id = ${threadId} AND p.checkpoint_ns = ${namespace} AND p.checkpoint_id = chain.parent_checkpoint_id
        LEFT JOIN conversation_step_index i
          ON i.thread_id = ${threadId} AND i.checkpoint_ns = ${namespace} AND i.checkpoint_id = p.checkpoint_id
       -- Walk back to the first indexed checkpoint, then one more row: its parent, whose messages it is diffed against.
       WHERE chain.indexed_seen = 0 OR (chain.indexed_seen = 1 AND chain.steps_before IS NOT NULL)
    )
    SELECT checkpoint_id AS "checkpointId", parent_checkpoint_id AS "parentCheckpointId", checkpoint, metadata,
           steps_before AS "stepsBefore"
      FROM chain ORDER BY depth`;
  if (chain.length === 0) {
    await client.conversationStepIndex.deleteMany({ where: { threadId, checkpointNs: namespace } });
    return { headId: null, headSteps: [], checkpointsIndexed: 0, rebuilt: true, firstUserMessage: null };
  }
  const headId = (chain[0] as ChainRow).checkpointId;
  const anchor = chain.findIndex((row) => row.stepsBefore !== null);
  const lineage = chain.slice(0, anchor === -1 ? chain.length : anchor + 1).reverse();
  const first = lineage[0] as ChainRow;
  const parent = anchor === -1 ? null : (chain[anchor + 1] ?? null);
  if (first.parentCheckpointId !== null && (parent === null || parent.checkpointId !== first.parentCheckpointId)) {
    throw new CheckpointFormatError(
      `thread ${threadId} namespace "${namespace}": expected the parent ${first.parentCheckpointId} of checkpoint ${first.checkpointId} in the checkpoints table, found none`,
    );
  }
  await client.conversationStepIndex.deleteMany({
    where: { threadId, checkpointNs: namespace, ...(anchor === -1 ? {} : { checkpointId: { gte: first.checkpointId } }) },
  });

  let stepsBefore = first.stepsBefore ?? 0;
  let previous: CheckpointRow | null = parent === null ? null : asCheckpointRow(parent, namespace);
  let previousKeys: readonly string[] | undefined;
  let headSteps: ReplayStep[] = [];
  let firstUserMessage: ReplayStep | null = null;
  for (let offset = 0; offset < lineage.length; offset += INDEX_CHUNK) {
    const checkpoints = lineage.slice(offset, offset + INDEX_CHUNK).map((row) => asCheckpointRow(row, namespace));
    const facts = await selectMessagesFacts(client, threadId, namespace, messagesVersionsOfWindow(checkpoints, previous));
    const stores = await loadCheckpointWindow(client, threadId, namespace, checkpoints, previous, facts);
    const results = transformCheckpointWindowDetailed({
      checkpoints,
      parentOfFirst: previous,
      ...(previousKeys === undefined ? {} : { parentMessageKeys: previousKeys }),
      ...stores,
      stepsBefore,
    });
    const entries = stepIndexEntriesOf(results, stepsBefore);
    await client.conversationStepIndex.createMany({
      data: entries.map((entry, index) => {
        const result = results[index] as CheckpointSteps;
        const messages = messagesFactsOf(stores, facts, checkpoints[index] as CheckpointRow, result.messageKeys.length);
        return { ...indexRowOf(threadId, namespace, entry, result, stores.writes.at(entry.checkpointId).length), ...messages };
      }),
    });
    onIndexed?.(results);
    const last = results.at(-1) as CheckpointSteps;
    stepsBefore += results.reduce((sum, result) => sum + result.steps.length, 0);
    previous = checkpoints.at(-1) as CheckpointRow;
    previousKeys = last.messageKeys;
    headSteps = last.steps;
    firstUserMessage ??= results.flatMap((result) => result.steps).find((step) => step.type === 'USER_MESSAGE') ?? null;
  }
  return { headId, headSteps, checkpointsIndexed: lineage.length, rebuilt: anchor === -1, firstUserMessage };
}

/** The indexed lineage of a (thread, namespace), oldest first, with each checkpoint's tokens per model. */
export async function readStepIndex(
  client: DbClient,
  threadId: string,
  namespace: string,
): Promise<{ entry: StepIndexEntry; modelTokens: ModelTokens }[]> {
  const rows = await client.conversationStepIndex.findMany({
    where: { threadId, checkpointNs: namespace },
    orderBy: [{ stepsBefore: 'asc' }, { checkpointId: 'asc' }],
  });
  return rows.map((row) => ({ entry: entryOf(row), modelTokens: row.modelTokens as ModelTokens }));
}

/** Transforms the first indexed checkpoint of a lineage holding a USER_MESSAGE (for a thread's title), or null. */
export async function firstUserMessageSteps(client: DbClient, threadId: string, namespace: string): Promise<ReplayStep[] | null> {
  const [found] = await client.$queryRaw<{ checkpointId: string; stepsBefore: number }[]>`
    SELECT checkpoint_id AS "checkpointId", steps_before AS "stepsBefore" FROM conversation_step_index
     WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace} AND type_counts ->> 'USER_MESSAGE' IS NOT NULL
     ORDER BY steps_before, checkpoint_id LIMIT 1`;
  if (found === undefined) return null;
  const [checkpoint] = await readCheckpointRows(client, threadId, namespace, [found.checkpointId]);
  if (checkpoint === undefined) return null;
  const parentId = checkpoint.parentCheckpointId;
  const [parent] = parentId === null ? [null] : await readCheckpointRows(client, threadId, namespace, [parentId]);
  const stores = await loadCheckpointWindow(client, threadId, namespace, [checkpoint], parent ?? null);
  return transformCheckpointWindow({ checkpoints: [checkpoint], parentOfFirst: parent ?? null, ...stores, stepsBefore: found.stepsBefore });
}

/** What the index keeps about a `messages` blob to prove it a byte prefix of a longer one (see the columns). */
export interface MessagesBlobFacts {
  bytes: number;
  /** Messages of the list, when known (the index has them; facts computed from the blobs in SQL do not). */
  count?: number;
  digest: string;
  /** Whether the blob extends the previous version of the window (its parent checkpoint's). */
  extendsPrevious: boolean;
}

/** The stores a window is transformed with, and the raw `messages` blobs that were loaded (by version). */
export interface WindowStores {
  blobs: CheckpointBlobStore;
  writes: CheckpointWriteStore;
  messageBlobs: ReadonlyMap<string, BlobRow>;
  /** Per `messages` version of the window (in order): whether its bytes extend the previous version's. */
  extendsPrevious: ReadonlyMap<string, boolean>;
}

/**
 * Loads the blob and write rows a window of checkpoints needs ({@link blobKeysForWindow}): one statement for the
 * `messages` blobs (bytes) and trigger blobs (type only), one for the writes. Without `facts` every `messages` version
 * is loaded (the sync), and each list whose bytes prove it a prefix of a newer one is served from that one's parse; with
 * `facts` (from the index, by version) only the newest list of each stretch of extending versions is loaded, plus, in
 * one more statement, any list the facts do not prove a prefix of it. With `cache` (and facts), a newest list found
 * there whose bytes match its facts is only checked for existence (type only), and the lists parsed are kept there.
 */
export async function loadCheckpointWindow(
  client: DbClient,
  threadId: string,
  namespace: string,
  checkpoints: readonly CheckpointRow[],
  parentOfFirst: CheckpointRow | null,
  facts?: ReadonlyMap<string, MessagesBlobFacts>,
  cache?: ByteBoundedCache<Anchor>,
): Promise<WindowStores> {
  const keys = blobKeysForWindow(checkpoints, parentOfFirst);
  const ordered = messagesVersionsOfWindow(checkpoints, parentOfFirst);
  // With facts, a version that the next one does not extend ends a stretch: it is the stretch's anchor, parsed itself.
  const anchors =
    facts === undefined ? ordered : ordered.filter((_, index) => facts.get(ordered[index + 1] as string)?.extendsPrevious !== true);
  const cached = new Map<string, Anchor>();
  if (facts !== undefined && cache !== undefined) {
    for (const version of anchors) {
      const hit = cache.get(messagesCacheKey(threadId, namespace, version));
      if (hit?.list != null && hit.list.matches(facts.get(version))) cached.set(version, hit);
    }
  }
  const triggerChannels = [...cached.keys()].map(() => SpecialChannel.messages as string);
  const triggerVersions = [...cached.keys()];
  for (const key of keys.triggerBlobTypes) {
    triggerChannels.push(key.channel);
    triggerVersions.push(key.version);
  }
  const loaded = await selectBlobs(
    client,
    threadId,
    namespace,
    anchors.filter((version) => !cached.has(version)),
    triggerChannels,
    triggerVersions,
  );
  const triggers = loaded.filter((row) => row.channel !== SpecialChannel.messages);
  const messageBlobs = new Map<string, BlobRow>();
  for (const row of loaded) {
    if (row.channel !== SpecialChannel.messages) continue;
    // A cached list whose row still exists (its type is all that was read) is served from the cache.
    const hit = cached.get(row.version);
    if (hit === undefined) messageBlobs.set(row.version, row);
    else if (row.type === hit.list?.row.type) messageBlobs.set(row.version, hit.list.row);
  }
  const reuse = new Map([...cached].filter(([version]) => messageBlobs.has(version)));
  let built = buildBlobStore(triggers, messageBlobs, ordered, facts, reuse);
  if (built.missing.length > 0) {
    for (const row of await selectBlobs(client, threadId, namespace, built.missing, [], [])) messageBlobs.set(row.version, row);
    built = buildBlobStore(triggers, messageBlobs, ordered, facts, reuse);
  }
  if (cache !== undefined && facts !== undefined) {
    for (const [version, anchor] of built.anchors) {
      if (!reuse.has(version) && anchor.list?.matches(facts.get(version)) === true) {
        cache.set(messagesCacheKey(threadId, namespace, version), anchor, messagesCacheSize(anchor.list.bytes.byteLength));
      }
    }
  }
  const writes = await client.langGraphCheckpointWrite.findMany({
    where: { threadId, checkpointNs: namespace, checkpointId: { in: keys.writeCheckpointIds } },
    select: { checkpointId: true, taskId: true, idx: true, channel: true, type: true, blob: true },
  });
  return { blobs: built.store, writes: new CheckpointWriteStore(writes), messageBlobs, extendsPrevious: built.extendsPrevious };
}

/** A decoded value in JSON-safe form, for JSONB columns and the JSON scalar: bytes become base64, undefined null. */
export function toJsonValue(value: DecodedValue): Prisma.InputJsonValue | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).flatMap(([key, item]) => (item === undefined ? [] : [[key, toJsonValue(item)]])));
  }
  return value;
}

/** Tokens of a checkpoint's model calls per model name, as stored in `model_tokens`. */
export type ModelTokens = Record<string, { input: number; output: number }>;

// ---------------------------------------------------------------------------------------------------------------
// Internals

/** `messages` versions (with bytes) and trigger blobs (type only) of a (thread, namespace), in one statement. */
async function selectBlobs(
  client: DbClient,
  threadId: string,
  namespace: string,
  messageVersions: readonly string[],
  typeOnlyChannels: readonly string[],
  typeOnlyVersions: readonly string[],
): Promise<BlobRow[]> {
  const channels = [...messageVersions.map(() => SpecialChannel.messages as string), ...typeOnlyChannels];
  if (channels.length === 0) return [];
  const rows = await client.$queryRaw<(BlobRow & { withData: boolean })[]>`
    SELECT b.channel, b.version, b.type, CASE WHEN k.with_data THEN b.blob END AS blob, k.with_data AS "withData"
      FROM checkpoint_blobs b
      JOIN unnest(${channels}::text[], ${[...messageVersions, ...typeOnlyVersions]}::text[],
                  ${channels.map((_, index) => index < messageVersions.length)}::boolean[]) AS k(channel, version, with_data)
        ON b.channel = k.channel AND b.version = k.version
     WHERE b.thread_id = ${threadId} AND b.checkpoint_ns = ${namespace}`;
  // A type-only row must have no `blob` key at all (null would mean a NULL blob).
  return rows.map(({ withData, blob, ...row }) => (withData ? { ...row, blob } : row));
}

/**
 * A blob store for a window's `messages` versions (`ordered` oldest first): each version that extends the next one up
 * to an anchor (the newest of its stretch) is served as the first messages of the anchor's list, proven by bytes when
 * the version's blob was loaded, else by its index facts; anchors and unproven loaded versions are parsed on their own,
 * and unproven versions that were not loaded are returned as missing.
 */
function buildBlobStore(
  triggers: readonly BlobRow[],
  messageBlobs: ReadonlyMap<string, BlobRow>,
  ordered: readonly string[],
  facts: ReadonlyMap<string, MessagesBlobFacts> | undefined,
  reuse: ReadonlyMap<string, Anchor> = new Map(),
): { store: CheckpointBlobStore; missing: string[]; extendsPrevious: Map<string, boolean>; anchors: Map<string, Anchor> } {
  const extendsPrevious = new Map<string, boolean>();
  ordered.forEach((version, index) => {
    const previous = index === 0 ? undefined : messageBlobs.get(ordered[index - 1] as string);
    const own = messageBlobs.get(version);
    const byBytes = previous !== undefined && own !== undefined ? JsonListBytes.prefixLength(previous, own) !== null : undefined;
    extendsPrevious.set(version, index > 0 && (byBytes ?? facts?.get(version)?.extendsPrevious ?? false));
  });
  const served = new Map<Uint8Array, () => DecodedValue>();
  const anchors = new Map<string, Anchor>();
  const rows: BlobRow[] = [...triggers];
  const missing: string[] = [];
  let anchor: Anchor | null = null;
  // Newest first, so that each version meets the anchor of its stretch before it.
  for (let index = ordered.length - 1; index >= 0; index -= 1) {
    const version = ordered[index] as string;
    const row = messageBlobs.get(version);
    const extendsNext = index < ordered.length - 1 && extendsPrevious.get(ordered[index + 1] as string) === true;
    const count = extendsNext && anchor?.list != null ? proveCount(anchor.list, row, facts?.get(version)) : null;
    if (count !== null && anchor !== null) {
      const source = anchor;
      // A marker row: the store hands its (unique) bytes to the decode function below, which returns the slice.
      const marker = new Uint8Array(0);
      served.set(marker, () => messagesPrefix(parseList(source), count));
      rows.push({ channel: SpecialChannel.messages, version, type: 'json', blob: marker });
      continue;
    }
    if (row === undefined) {
      missing.push(version);
      anchor = null;
      continue;
    }
    rows.push(row);
    const current: Anchor = reuse.get(version) ?? { list: JsonListBytes.of(row) };
    anchors.set(version, current);
    // The older versions not loaded are proven by digests of this list's heads, and the list itself is checked against
    // its own facts before it is cached: hash it once for all of them.
    current.list?.digestHeads(
      ordered.slice(0, index + 1).flatMap((older) => {
        const known = messageBlobs.has(older) && older !== version ? undefined : facts?.get(older);
        return known === undefined ? [] : [known.bytes - 1];
      }),
    );
    if (current.list !== null) served.set(current.list.bytes, () => parseList(current));
    anchor = current;
  }
  const decode = (value: { type: string | null; blob: Uint8Array | null }) =>
    (value.blob === null ? undefined : served.get(value.blob))?.() ?? decodeEncodedValue(value);
  return { store: new CheckpointBlobStore(rows, decode), missing, extendsPrevious, anchors };
}

/** The newest `messages` list of a stretch, parsed at most once (and shared through the cache: never modify it). */
interface Anchor {
  list: JsonListBytes | null;
  parsed?: DecodedValue[];
}

/** The messages of an anchor that is a JSON list (the only kind versions are served from). */
function parseList(anchor: Anchor): DecodedValue[] {
  return (anchor.parsed ??= decodeEncodedValue({ type: 'json', blob: (anchor.list as JsonListBytes).bytes }) as DecodedValue[]);
}

/** Number of messages of a version proven a prefix of an anchor: by its bytes when loaded, else by its facts. */
function proveCount(anchor: JsonListBytes, row: BlobRow | undefined, facts: MessagesBlobFacts | undefined): number | null {
  if (row !== undefined) {
    const length = JsonListBytes.prefixLength(row, anchor.row);
    return length === null ? null : anchor.countEndingAt(length);
  }
  return facts !== undefined && anchor.digestOfHead(facts.bytes - 1) === facts.digest
    ? anchor.countEndingAt(facts.bytes, facts.count)
    : null;
}

/** A JSON `messages` blob as LangGraph.js writes it (no whitespace), scanned lazily for where its messages end. */
class JsonListBytes {
  private ends: Map<number, number> | undefined;
  private total = 0;
  private readonly digests = new Map<number, string>();

  private constructor(
    readonly row: BlobRow,
    readonly bytes: Uint8Array,
  ) {}

  /** The blob of a row when it is a JSON list, else null. */
  static of(row: BlobRow | undefined): JsonListBytes | null {
    const bytes = row?.blob;
    if (row?.type !== 'json' || !(bytes instanceof Uint8Array) || bytes[0] !== 0x5b || bytes.at(-1) !== 0x5d) return null;
    return new JsonListBytes(row, bytes);
  }

  /**
   * Length of `shorter`'s blob when its bytes before "]" start `longer`'s and `longer` goes on with "," (or ends
   * there): then `longer`'s first messages are exactly `shorter`'s. Null when not.
   */
  static prefixLength(shorter: BlobRow, longer: BlobRow): number | null {
    const [a, b] = [JsonListBytes.of(shorter), JsonListBytes.of(longer)];
    if (a === null || b === null || a.bytes.byteLength > b.bytes.byteLength) return null;
    const head = a.bytes.byteLength - 1;
    const next = b.bytes[head];
    const boundary = head === 1 || next === 0x2c || (next === 0x5d && head === b.bytes.byteLength - 1);
    return boundary && a.head(head).equals(b.head(head)) ? a.bytes.byteLength : null;
  }

  /** Whether these are the bytes the index facts of their version describe (their length and digest). */
  matches(facts: MessagesBlobFacts | undefined): boolean {
    return facts !== undefined && facts.bytes === this.bytes.byteLength && this.digestOfHead(facts.bytes - 1) === facts.digest;
  }

  /** Hex SHA-256 of the first `length` bytes (cached). */
  digestOfHead(length: number): string | null {
    if (length < 1 || length > this.bytes.byteLength) return null;
    let digest = this.digests.get(length);
    if (digest === undefined) {
      digest = createHash('sha256').update(this.head(length)).digest('hex');
      this.digests.set(length, digest);
    }
    return digest;
  }

  /**
   * Computes (and caches) the digests of several heads in one pass over the bytes: a window proves dozens of lists
   * against one anchor, and hashing each head from the start would hash the anchor once per list.
   */
  digestHeads(lengths: readonly number[]): void {
    const wanted = [...new Set(lengths)]
      .filter((length) => length >= 1 && length <= this.bytes.byteLength && !this.digests.has(length))
      .sort((a, b) => a - b);
    if (wanted.length < 2) return;
    const hash = createHash('sha256');
    let hashed = 0;
    for (const length of wanted) {
      hash.update(this.bytes.subarray(hashed, length));
      hashed = length;
      this.digests.set(length, hash.copy().digest('hex'));
    }
  }

  /**
   * Number of messages of a prefix of `length` bytes ("[" … then "]"), or null when no message ends there; when
   * `expected` is given (a count from the index) it is checked against the boundary instead of scanning.
   */
  countEndingAt(length: number, expected?: number): number | null {
    if (length === 2) return expected === undefined || expected === 0 ? 0 : null;
    const at = length - 1;
    if (at >= this.bytes.byteLength || (this.bytes[at] !== 0x2c && at !== this.bytes.byteLength - 1)) return null;
    if (expected !== undefined) return expected;
    this.scan();
    return at === this.bytes.byteLength - 1 ? this.total : (this.ends?.get(at) ?? null);
  }

  /** Records the offsets of the top-level "," separators (UTF-8 multi-byte sequences never contain ASCII bytes). */
  private scan(): void {
    if (this.ends !== undefined) return;
    const ends = new Map<number, number>();
    let depth = 0;
    let inString = false;
    for (let index = 0; index < this.bytes.byteLength; index += 1) {
      const byte = this.bytes[index];
      if (inString) {
        if (byte === 0x5c) index += 1;
        else if (byte === 0x22) inString = false;
      } else if (byte === 0x22) inString = true;
      else if (byte === 0x5b || byte === 0x7b) depth += 1;
      else if (byte === 0x5d || byte === 0x7d) depth -= 1;
      else if (byte === 0x2c && depth === 1) ends.set(index, ends.size + 1);
    }
    this.ends = ends;
    this.total = this.bytes.byteLength === 2 ? 0 : ends.size + 1;
  }

  private head(length: number): Buffer {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, length);
  }
}

/** The `messages` columns of an index row: the facts of the checkpoint's own blob, when it is a JSON list. */
function messagesFactsOf(
  stores: WindowStores,
  facts: ReadonlyMap<string, MessagesBlobFacts>,
  checkpoint: CheckpointRow,
  count: number,
): Pick<Prisma.ConversationStepIndexCreateManyInput, 'messagesBytes' | 'messagesCount' | 'messagesDigest' | 'messagesExtendsParent'> {
  const version = messagesVersionOf(checkpoint);
  const known = version === null ? undefined : facts.get(version);
  if (known === undefined) return { messagesBytes: null, messagesCount: null, messagesDigest: null, messagesExtendsParent: null };
  return {
    messagesBytes: known.bytes,
    messagesCount: count,
    messagesDigest: known.digest,
    messagesExtendsParent: stores.extendsPrevious.get(version as string) ?? false,
  };
}

/**
 * The facts of `versions`' `messages` blobs (oldest first) that are JSON lists, computed by PostgreSQL from the
 * bytes where they are stored, as {@link JsonListBytes} would from the blobs: their length, the digest of their bytes
 * before "]", and whether each extends the one before it ({@link JsonListBytes.prefixLength}). With them a window
 * reads only the newest list of each stretch: late in a long thread every list holds the whole conversation, and
 * reading them all (150 MB for 1,000 steps) left the server's RSS ~100 MB higher than before the build.
 */
async function selectMessagesFacts(
  client: DbClient,
  threadId: string,
  namespace: string,
  versions: readonly string[],
): Promise<Map<string, MessagesBlobFacts>> {
  if (versions.length === 0) return new Map();
  const rows = await client.$queryRaw<{ version: string; bytes: number; digest: string; extendsPrevious: boolean }[]>`
    WITH list AS (
      SELECT k.ordinal, b.version, octet_length(b.blob) AS bytes, b.blob
        FROM unnest(${versions}::text[]) WITH ORDINALITY AS k(version, ordinal)
        JOIN checkpoint_blobs b
          ON b.thread_id = ${threadId} AND b.checkpoint_ns = ${namespace} AND b.channel = ${SpecialChannel.messages}
         AND b.version = k.version
       WHERE b.type = 'json' AND octet_length(b.blob) >= 2
         AND get_byte(b.blob, 0) = 91 AND get_byte(b.blob, octet_length(b.blob) - 1) = 93
    ), facts AS (
      SELECT ordinal, version, bytes, blob, encode(sha256(substring(blob FROM 1 FOR bytes - 1)), 'hex') AS digest
        FROM list
    ), paired AS (
      SELECT facts.*, lag(ordinal) OVER w AS previous_ordinal, lag(bytes) OVER w AS previous_bytes,
             lag(digest) OVER w AS previous_digest
        FROM facts WINDOW w AS (ORDER BY ordinal)
    )
    SELECT version, bytes, digest,
           COALESCE(previous_ordinal = ordinal - 1 AND previous_bytes <= bytes
             AND (previous_bytes = 2 OR previous_bytes = bytes OR get_byte(blob, previous_bytes - 1) = 44)
             AND encode(sha256(substring(blob FROM 1 FOR previous_bytes - 1)), 'hex') = previous_digest, false) AS "extendsPrevious"
      FROM paired`;
  return new Map(rows.map((row) => [row.version, { bytes: row.bytes, digest: row.digest, extendsPrevious: row.extendsPrevious }]));
}

/** The distinct `messages` versions of a window's checkpoints (and of the parent of its first), oldest first. */
function messagesVersionsOfWindow(checkpoints: readonly CheckpointRow[], parentOfFirst: CheckpointRow | null): string[] {
  return [...new Set([parentOfFirst, ...checkpoints].flatMap((row) => (row === null ? [] : (messagesVersionOf(row) ?? []))))];
}

/** The version of a checkpoint's `messages` channel as `checkpoint_blobs.version` spells it, or null. */
function messagesVersionOf(checkpoint: CheckpointRow): string | null {
  const version = readCheckpointHeader(checkpoint).channelVersions[SpecialChannel.messages];
  return version === undefined ? null : versionKey(version);
}

interface ChainRow {
  checkpointId: string;
  parentCheckpointId: string | null;
  checkpoint: unknown;
  metadata: unknown;
  stepsBefore: number | null;
}

/** One row of the page statement: the index freshness, and one window checkpoint (or the window's parent). */
interface WindowStatementRow {
  stale: boolean;
  isParent: boolean | null;
  checkpointId: string | null;
  parentCheckpointId: string | null;
  stepsBefore: number | null;
  checkpoint: unknown;
  metadata: unknown;
  messagesBytes: number | null;
  messagesCount: number | null;
  messagesDigest: string | null;
  messagesExtendsParent: boolean | null;
}

interface WindowRows {
  /** False when the conversation is not the tenant's (or not the thread's). */
  found: boolean;
  /** Index facts of the window's `messages` blobs, by version. */
  facts: Map<string, MessagesBlobFacts>;
  /** True when the index is missing or behind the newest checkpoint of the namespace. */
  stale: boolean;
  checkpoints: CheckpointRow[];
  parent: CheckpointRow | null;
  stepsBefore: number;
}

/**
 * Statement (1) of a page: see the module header. The thread id is a parameter so that every bound is an index
 * condition; the conversation row is still required to be the tenant's (and the thread's), or nothing is returned.
 */
async function readWindowRows(
  client: DbClient,
  tenantId: string,
  conversation: ReplayConversation,
  namespace: string,
  request: ReplayPageRequest,
): Promise<WindowRows> {
  const { threadId } = conversation;
  const typed = request.types !== null && request.types.length > 0;
  const matching = matchingSteps(request.types);
  const own = Prisma.sql`i.thread_id = ${threadId} AND i.checkpoint_ns = ${namespace}`;
  // Steps before the row holding ordinal n start at this row's steps_before: the last non-empty row starting before n.
  // ORDER BY … LIMIT 1 rather than MAX, and the LATERAL … LIMIT 1 lookups below, keep these index probes whatever the
  // statistics say (a thread's rows are often newer than the last ANALYZE).
  const holding = (ordinal: Prisma.Sql) => Prisma.sql`COALESCE((
    SELECT i.steps_before FROM conversation_step_index i WHERE ${own} AND i.steps_before < ${ordinal} AND i.step_count > 0
     ORDER BY i.steps_before DESC, i.checkpoint_id DESC LIMIT 1), 0)`;
  let window: Prisma.Sql;
  if (!request.backward) {
    // Steps after ordinal A = cursor, from the row holding A + 1; a running sum of the matching steps past A stops at
    // `want`. A row cut by the cursor counts exactly without a type filter and as 0 with one (its split by type is
    // unknown), which at worst reads one row more.
    const after = request.cursor ?? 0;
    const counted = typed
      ? Prisma.sql`CASE WHEN i.steps_before < ${after} THEN 0 ELSE ${matching} END`
      : Prisma.sql`GREATEST(0, LEAST(i.step_count, i.steps_before + i.step_count - ${after}))`;
    window = Prisma.sql`
      win AS (
        SELECT * FROM (
          SELECT i.checkpoint_id, i.parent_checkpoint_id, i.steps_before, ${counted} AS counted,
                 SUM(${counted}) OVER (ORDER BY i.steps_before, i.checkpoint_id) AS through
            FROM conversation_step_index i
           WHERE ${own} AND i.steps_before >= ${holding(Prisma.sql`${after + 1}`)}
                 ${typed ? Prisma.empty : Prisma.sql`AND i.steps_before < ${after + request.want}`}
        ) x WHERE x.through - x.counted < ${request.want}
      )`;
  } else {
    // Steps before ordinal B = cursor (or after the last), walking down from the row holding B - 1. B is clamped to one
    // past the last step: a window sized from a bound beyond the end would start too late and miss steps.
    const bound = Prisma.sql`(SELECT b FROM bound)`;
    const counted = typed
      ? Prisma.sql`CASE WHEN i.steps_before + i.step_count > ${bound} - 1 THEN 0 ELSE ${matching} END`
      : Prisma.sql`LEAST(i.step_count, ${bound} - 1 - i.steps_before)`;
    window = Prisma.sql`
      bound AS (
        SELECT LEAST(COALESCE(${request.cursor}::int, 2147483647), COALESCE((
          SELECT i.steps_before + i.step_count FROM conversation_step_index i WHERE ${own}
           ORDER BY i.steps_before DESC, i.checkpoint_id DESC LIMIT 1) + 1, 1)) AS b
      ),
      win AS (
        SELECT * FROM (
          SELECT i.checkpoint_id, i.parent_checkpoint_id, i.steps_before, ${counted} AS counted,
                 SUM(${counted}) OVER (ORDER BY i.steps_before DESC, i.checkpoint_id DESC) AS through
            FROM conversation_step_index i
           WHERE ${own} AND i.steps_before < ${bound} - 1
                 ${typed ? Prisma.empty : Prisma.sql`AND i.steps_before >= ${holding(Prisma.sql`${bound} - ${request.want}`)}`}
        ) x WHERE x.through - x.counted < ${request.want}
      )`;
  }
  const rows = await client.$queryRaw<WindowStatementRow[]>`
    WITH conv AS (
      SELECT thread_id FROM conversations
       WHERE id = ${conversation.key}::uuid AND tenant_id = ${tenantId} AND thread_id = ${threadId}
    ),
    head AS (
      SELECT checkpoint_id FROM checkpoints WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace}
       ORDER BY checkpoint_id DESC LIMIT 1
    ),
    state AS (
      -- Fresh when the newest checkpoint is indexed with the writes it has now (or the namespace has none).
      SELECT conv.thread_id,
             EXISTS (SELECT 1 FROM head) AND (
               SELECT i.write_count FROM conversation_step_index i
                WHERE ${own} AND i.checkpoint_id = (SELECT checkpoint_id FROM head)
             ) IS DISTINCT FROM (
               SELECT COUNT(*)::int FROM checkpoint_writes w
                WHERE w.thread_id = ${threadId} AND w.checkpoint_ns = ${namespace} AND w.checkpoint_id = (SELECT checkpoint_id FROM head)
             ) AS stale
        FROM conv
    ),
    ${window},
    rows AS (
      SELECT false AS is_parent, checkpoint_id, steps_before FROM win
      UNION ALL
      SELECT true, p.parent_checkpoint_id, NULL
        FROM (SELECT parent_checkpoint_id FROM win ORDER BY steps_before, checkpoint_id LIMIT 1) p
       WHERE p.parent_checkpoint_id IS NOT NULL
    )
    SELECT s.stale, r.is_parent AS "isParent", r.checkpoint_id AS "checkpointId",
           k.parent_checkpoint_id AS "parentCheckpointId", r.steps_before AS "stepsBefore", k.checkpoint, k.metadata,
           f.messages_bytes AS "messagesBytes", f.messages_count AS "messagesCount", f.messages_digest AS "messagesDigest",
           f.messages_extends_parent AS "messagesExtendsParent"
      FROM state s
      LEFT JOIN rows r ON true
      LEFT JOIN LATERAL (
        SELECT parent_checkpoint_id, checkpoint, metadata FROM checkpoints
         WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace} AND checkpoint_id = r.checkpoint_id LIMIT 1
      ) k ON true
      LEFT JOIN LATERAL (
        SELECT messages_bytes, messages_count, messages_digest, messages_extends_parent FROM conversation_step_index
         WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace} AND checkpoint_id = r.checkpoint_id LIMIT 1
      ) f ON true`;
  const [state] = rows;
  if (state === undefined) return { found: false, facts: new Map(), stale: false, checkpoints: [], parent: null, stepsBefore: 0 };
  const found = rows.filter((row) => row.checkpointId !== null && row.checkpoint !== null);
  const windowRows = found
    .filter((row) => row.isParent === false)
    .sort((a, b) => (a.stepsBefore as number) - (b.stepsBefore as number) || compareText(a.checkpointId, b.checkpointId));
  const parentRow = found.find((row) => row.isParent === true);
  // Index rows whose checkpoint disappeared (deleted thread rows) make the window unusable: treat the index as stale.
  const expected = rows.filter((row) => row.checkpointId !== null).length;
  const checkpoints = windowRows.map((row) => asCheckpointRow(row as ChainRow, namespace));
  const parent = parentRow === undefined ? null : asCheckpointRow(parentRow as ChainRow, namespace);
  const facts = new Map<string, MessagesBlobFacts>();
  // In lineage order, so that a version's facts come from the checkpoint where it first appears (where it changed).
  for (const row of parentRow === undefined ? windowRows : [parentRow, ...windowRows]) {
    const version = messagesVersionOf(asCheckpointRow(row as ChainRow, namespace));
    if (version === null || facts.has(version) || row.messagesBytes === null || row.messagesCount === null || row.messagesDigest === null)
      continue;
    facts.set(version, {
      bytes: row.messagesBytes,
      count: row.messagesCount,
      digest: row.messagesDigest,
      extendsPrevious: row.messagesExtendsParent === true,
    });
  }
  return {
    found: true,
    facts,
    stale: state.stale || found.length !== expected,
    checkpoints,
    parent,
    stepsBefore: windowRows[0]?.stepsBefore ?? 0,
  };
}

/** SQL for the number of steps of an index row `i` that match the types (all steps without a filter). */
function matchingSteps(types: readonly ReplayStepType[] | null): Prisma.Sql {
  if (types === null || types.length === 0) return Prisma.sql`i.step_count`;
  return Prisma.sql`(SELECT COALESCE(SUM((i.type_counts ->> t)::int), 0) FROM unnest(${[...types]}::text[]) AS t)::int`;
}

/** Matching steps past the cursor, in reading order, at most `want`. */
function cutPage(steps: readonly ReplayStep[], request: ReplayPageRequest): ReplayStep[] {
  const types = request.types !== null && request.types.length > 0 ? new Set(request.types) : null;
  const cursor = request.cursor;
  const matching = steps.filter(
    (step) =>
      (types === null || types.has(step.type)) && (cursor === null || (request.backward ? step.ordinal < cursor : step.ordinal > cursor)),
  );
  return request.backward ? matching.slice(-request.want).reverse() : matching.slice(0, request.want);
}

async function readCheckpointRows(client: DbClient, threadId: string, namespace: string, ids: string[]): Promise<CheckpointRow[]> {
  return client.langGraphCheckpoint.findMany({
    where: { threadId, checkpointNs: namespace, checkpointId: { in: ids } },
    select: { threadId: true, checkpointNs: true, checkpointId: true, parentCheckpointId: true, checkpoint: true, metadata: true },
  });
}

function asCheckpointRow(
  row: Pick<ChainRow, 'checkpointId' | 'parentCheckpointId' | 'checkpoint' | 'metadata'>,
  namespace: string,
): CheckpointRow {
  return {
    checkpointNs: namespace,
    checkpointId: row.checkpointId,
    parentCheckpointId: row.parentCheckpointId,
    checkpoint: row.checkpoint,
    metadata: row.metadata,
  };
}

function indexRowOf(
  threadId: string,
  namespace: string,
  entry: StepIndexEntry,
  result: CheckpointSteps,
  writeCount: number,
): Prisma.ConversationStepIndexCreateManyInput {
  const modelTokens: ModelTokens = {};
  for (const step of result.steps) {
    if (step.tokens === null || step.model === null) continue;
    const sums = (modelTokens[step.model] ??= { input: 0, output: 0 });
    sums.input += step.tokens.input ?? 0;
    sums.output += step.tokens.output ?? 0;
  }
  return {
    threadId,
    checkpointNs: namespace,
    checkpointId: entry.checkpointId,
    parentCheckpointId: entry.parentCheckpointId,
    ts: new Date(entry.timestamp),
    stepsBefore: entry.stepsBefore,
    stepCount: entry.stepCount,
    typeCounts: entry.typeCounts,
    inputTokens: entry.tokens.input,
    outputTokens: entry.tokens.output,
    reasoningTokens: entry.tokens.reasoning,
    totalTokens: entry.tokens.total,
    models: entry.models,
    modelTokens,
    writeCount,
  };
}

function entryOf(row: ConversationStepIndex): StepIndexEntry {
  return {
    checkpointId: row.checkpointId,
    parentCheckpointId: row.parentCheckpointId,
    timestamp: row.ts.toISOString(),
    stepsBefore: row.stepsBefore,
    stepCount: row.stepCount,
    typeCounts: row.typeCounts as StepIndexEntry['typeCounts'],
    tokens: { input: row.inputTokens, output: row.outputTokens, reasoning: row.reasoningTokens, total: row.totalTokens },
    models: row.models,
  };
}

function compareText(a: string | null, b: string | null): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
}
