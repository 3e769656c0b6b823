/**
 * Loading what a window of consecutive checkpoints of one (thread, namespace) is transformed with: the `messages` and
 * trigger blobs of those checkpoints and of the parent of the first ({@link blobKeysForWindow}), and their writes. A
 * replay page and the step index both read windows through here, with facts of each `messages` list (kept by the index
 * for a page, computed by PostgreSQL while indexing) so that only the newest list of each stretch is loaded
 * (replay.list-prefix.ts).
 *
 * These functions read LangGraph's tables for a thread whatever its tenant: call them only for a thread whose tenant
 * was checked (a page) or that is not exposed (the sync job).
 */
import type { DatabaseClient, Prisma } from '../db/client';
import {
  CheckpointBlobStore,
  CheckpointWriteStore,
  SpecialChannel,
  readCheckpointHeader,
  versionKey,
  type BlobRow,
  type CheckpointRow,
} from './checkpoint.rows';
import { messagesCacheKey, messagesCacheSize, type ByteBoundedCache } from './replay.cache';
import { buildBlobStore, type Anchor, type MessagesBlobFacts } from './replay.list-prefix';
import { blobKeysForWindow } from './replay.transformer';

/** The Prisma client or an interactive transaction of it. */
export type DbClient = DatabaseClient | Prisma.TransactionClient;

/** The columns of a `checkpoints` row a window needs, as a statement of ours selects them (the namespace is known). */
export type CheckpointColumns = Pick<CheckpointRow, 'checkpointId' | 'parentCheckpointId' | 'checkpoint' | 'metadata'>;

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
 * is loaded (a thread's title), and each list whose bytes prove it a prefix of a newer one is served from that one's
 * parse; with `facts` (by version) only the newest list of each stretch of extending versions is loaded, plus, in
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

/** A checkpoint row of `namespace` from the columns a statement of ours selected. */
export function asCheckpointRow(row: CheckpointColumns, namespace: string): CheckpointRow {
  return {
    checkpointNs: namespace,
    checkpointId: row.checkpointId,
    parentCheckpointId: row.parentCheckpointId,
    checkpoint: row.checkpoint,
    metadata: row.metadata,
  };
}

/** The distinct `messages` versions of a window's checkpoints (and of the parent of its first), oldest first. */
export function messagesVersionsOfWindow(checkpoints: readonly CheckpointRow[], parentOfFirst: CheckpointRow | null): string[] {
  return [...new Set([parentOfFirst, ...checkpoints].flatMap((row) => (row === null ? [] : (messagesVersionOf(row) ?? []))))];
}

/** The version of a checkpoint's `messages` channel as `checkpoint_blobs.version` spells it, or null. */
export function messagesVersionOf(checkpoint: CheckpointRow): string | null {
  const version = readCheckpointHeader(checkpoint).channelVersions[SpecialChannel.messages];
  return version === undefined ? null : versionKey(version);
}
