/**
 * Keeping the step index (`conversation_step_index`, one row per checkpoint of a (thread, namespace) lineage: the
 * steps before it, its step count per type, tokens, and the facts of its `messages` list) up to the newest checkpoint,
 * and reading it back for the sync's rollups. The conversation sync refreshes it after LangGraph wrote; a replay page
 * that finds it missing or behind refreshes it on demand (see replay.repository.ts). Either holds the thread's
 * advisory lock ({@link THREAD_LOCK_CLASS}) in a transaction, so a thread is never indexed twice at once.
 *
 * These functions are system-level: they take a {@link DbClient}, not a tenant, and must only be called for threads
 * whose tenant was checked or that are not exposed.
 */
import type { Prisma } from '../db/client';
import type { ConversationStepIndex } from '../generated/prisma/client';
import { CheckpointFormatError, SpecialChannel, type CheckpointRow } from './checkpoint.rows';
import {
  asCheckpointRow,
  loadCheckpointWindow,
  messagesVersionOf,
  messagesVersionsOfWindow,
  type DbClient,
  type WindowStores,
} from './replay.checkpoint-window';
import type { MessagesBlobFacts } from './replay.list-prefix';
import { stepIndexEntriesOf, type StepIndexEntry } from './replay.step-index';
import { transformCheckpointWindow, transformCheckpointWindowDetailed, type CheckpointSteps, type ReplayStep } from './replay.transformer';

/** Checkpoints transformed per chunk while indexing, so a long thread never has all of its blobs in memory. */
const INDEX_CHUNK = 64;

/** Advisory lock class of per-thread sync work (`pg_advisory_xact_lock(class, hashtext(thread_id))`); "conv" in ASCII. */
export const THREAD_LOCK_CLASS = 0x636f6e76;

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
  const chain = await selectChainToIndexed(client, threadId, namespace);
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

/**
 * The lineage of the newest checkpoint of a (thread, namespace), newest first, back to its first indexed ancestor and
 * that one's parent (whose messages it is diffed against); the whole lineage when none is indexed, none when the
 * namespace has no checkpoint.
 */
async function selectChainToIndexed(client: DbClient, threadId: string, namespace: string): Promise<ChainRow[]> {
  return client.$queryRaw<ChainRow[]>`
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

/** Tokens of a checkpoint's model calls per model name, as stored in `model_tokens`. */
export type ModelTokens = Record<string, { input: number; output: number }>;

/** A checkpoint of the lineage walked back from the head, with its index position when it is indexed. */
interface ChainRow {
  checkpointId: string;
  parentCheckpointId: string | null;
  checkpoint: unknown;
  metadata: unknown;
  stepsBefore: number | null;
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
 * bytes where they are stored, as `JsonListBytes` (replay.list-prefix.ts) would from the blobs: their length, the digest
 * of their bytes before "]", and whether each extends the one before it (`JsonListBytes.prefixLength`). With them a window
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

/** The checkpoints of a (thread, namespace) with these ids, in no particular order. */
async function readCheckpointRows(client: DbClient, threadId: string, namespace: string, ids: string[]): Promise<CheckpointRow[]> {
  return client.langGraphCheckpoint.findMany({
    where: { threadId, checkpointNs: namespace, checkpointId: { in: ids } },
    select: { threadId: true, checkpointNs: true, checkpointId: true, parentCheckpointId: true, checkpoint: true, metadata: true },
  });
}

/** The index row of one checkpoint, but for its `messages` columns ({@link messagesFactsOf}). */
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

/** An index row as the in-memory step index ({@link StepIndexEntry}) has it. */
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
