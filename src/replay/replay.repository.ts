/**
 * The tenant's reads of replays: a page of steps, their count, and the namespaces of conversations. Every function
 * takes the {@link TenantContext} and reaches the step index only through a conversation of the caller's tenant.
 *
 * A replay page costs three statements wherever it sits in the thread: (1) the index rows holding the requested
 * ordinals, found by keyset on `steps_before` (a running sum of matching steps picks the fewest rows; no OFFSET), joined
 * with their checkpoint rows, the parent of the first one and the freshness of the index ({@link readWindowRows});
 * (2) the `messages` and trigger blobs of those checkpoints, only the newest list of each stretch of extending lists
 * (replay.checkpoint-window.ts, replay.list-prefix.ts); (3) their writes.
 *
 * When the index is missing or behind the newest checkpoint of the namespace (sync not run yet, or a write landed
 * since), the namespace is indexed on demand under the same per-thread lock the sync takes
 * (replay.index-maintenance.ts), and the page is read again: always correct, and three statements once fresh.
 */
import { ConcurrencyLimit } from '../core/concurrency-limit';
import { Prisma } from '../db/client';
import type { TenantContext } from '../core/context';
import { messagesCacheOf } from './replay.cache';
import {
  asCheckpointRow,
  loadCheckpointWindow,
  messagesVersionOf,
  type CheckpointColumns,
  type DbClient,
} from './replay.checkpoint-window';
import { INDEX_TRANSACTION, THREAD_LOCK_CLASS, refreshStepIndex } from './replay.index-maintenance';
import type { Anchor, MessagesBlobFacts } from './replay.list-prefix';
import { transformCheckpointWindow, type ReplayStep, type ReplayStepType } from './replay.transformer';
import type { CheckpointRow } from './checkpoint.rows';

/**
 * Replay pages decoded at the same moment, per process. A page parses checkpoint blobs of up to megabytes; with the CPU
 * of two cores busy, more at once only adds memory (64 concurrent late pages reached 220 MB of RSS), not throughput.
 */
export const replayPagesAtOnce = new ConcurrencyLimit(4);

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
  // A read replica (context.db) cannot index; the primary does, and the page is then read from it, which has the index.
  let db = context.db;
  let window = await readWindowRows(db.prisma, context.viewer.tenantId, conversation, namespace, request);
  if (window.stale) {
    db = context.primary;
    await db.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(${THREAD_LOCK_CLASS}::int, hashtext(${threadId}))::text`;
      await refreshStepIndex(tx, threadId, namespace);
    }, INDEX_TRANSACTION);
    window = await readWindowRows(db.prisma, context.viewer.tenantId, conversation, namespace, request);
  }
  if (!window.found || window.checkpoints.length === 0) return [];
  const stores = await loadCheckpointWindow(
    db.prisma,
    threadId,
    namespace,
    window.checkpoints,
    window.parent,
    window.facts,
    messagesCacheOf<Anchor>(db),
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
// Statement (1) of a page: the window of index rows, built from one named piece per common table expression

/** The (thread, namespace) whose index rows and checkpoints a page reads. */
interface IndexScope {
  threadId: string;
  namespace: string;
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

/** What statement (1) found: the window's checkpoints, the parent of the first, and the index facts of their lists. */
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
  const scope: IndexScope = { threadId: conversation.threadId, namespace };
  const rows = await client.$queryRaw<WindowStatementRow[]>`
    WITH ${tenantConversation(tenantId, conversation)},
    ${newestCheckpoint(scope)},
    ${indexFreshness(scope)},
    ${request.backward ? windowBackward(scope, request) : windowForward(scope, request)},
    ${windowAndParent}
    ${windowCheckpointsWithFacts(scope)}`;
  return windowRowsOf(rows, namespace);
}

/** `conv`: the conversation's thread, when the conversation is the tenant's and the thread's (else no row at all). */
function tenantConversation(tenantId: string, conversation: ReplayConversation): Prisma.Sql {
  return Prisma.sql`conv AS (
      SELECT thread_id FROM conversations
       WHERE id = ${conversation.key}::uuid AND tenant_id = ${tenantId} AND thread_id = ${conversation.threadId}
    )`;
}

/** `head`: the id of the newest checkpoint of the namespace (no row when it has none). */
function newestCheckpoint({ threadId, namespace }: IndexScope): Prisma.Sql {
  return Prisma.sql`head AS (
      SELECT checkpoint_id FROM checkpoints WHERE thread_id = ${threadId} AND checkpoint_ns = ${namespace}
       ORDER BY checkpoint_id DESC LIMIT 1
    )`;
}

/** `state`: one row per tenant's conversation, saying whether the index is stale. */
function indexFreshness(scope: IndexScope): Prisma.Sql {
  const { threadId, namespace } = scope;
  return Prisma.sql`state AS (
      -- Fresh when the newest checkpoint is indexed with the writes it has now (or the namespace has none).
      SELECT conv.thread_id,
             EXISTS (SELECT 1 FROM head) AND (
               SELECT i.write_count FROM conversation_step_index i
                WHERE ${ownIndexRows(scope)} AND i.checkpoint_id = (SELECT checkpoint_id FROM head)
             ) IS DISTINCT FROM (
               SELECT COUNT(*)::int FROM checkpoint_writes w
                WHERE w.thread_id = ${threadId} AND w.checkpoint_ns = ${namespace} AND w.checkpoint_id = (SELECT checkpoint_id FROM head)
             ) AS stale
        FROM conv
    )`;
}

/**
 * `win`, reading forward: the index rows holding the matching steps after ordinal A = cursor, from the row holding
 * A + 1; a running sum of the matching steps past A stops at `want`. A row cut by the cursor counts exactly without a
 * type filter and as 0 with one (its split by type is unknown), which at worst reads one row more.
 */
function windowForward(scope: IndexScope, request: ReplayPageRequest): Prisma.Sql {
  const typed = request.types !== null && request.types.length > 0;
  const after = request.cursor ?? 0;
  const counted = typed
    ? Prisma.sql`CASE WHEN i.steps_before < ${after} THEN 0 ELSE ${matchingSteps(request.types)} END`
    : Prisma.sql`GREATEST(0, LEAST(i.step_count, i.steps_before + i.step_count - ${after}))`;
  // Without a type filter no row starting at A + want or later can hold a step of the page.
  const highest = typed ? Prisma.empty : Prisma.sql`AND i.steps_before < ${after + request.want}`;
  return Prisma.sql`win AS (
        SELECT * FROM (
          SELECT i.checkpoint_id, i.parent_checkpoint_id, i.steps_before, ${counted} AS counted,
                 SUM(${counted}) OVER (ORDER BY i.steps_before, i.checkpoint_id) AS through
            FROM conversation_step_index i
           WHERE ${ownIndexRows(scope)} AND i.steps_before >= ${stepsBeforeRowHolding(scope, Prisma.sql`${after + 1}`)}
                 ${highest}
        ) x WHERE x.through - x.counted < ${request.want}
      )`;
}

/**
 * `bound` and `win`, reading backward: the index rows holding the matching steps before ordinal B = cursor (or after
 * the last), walking down from the row holding B - 1. B is clamped to one past the last step: a window sized from a
 * bound beyond the end would start too late and miss steps.
 */
function windowBackward(scope: IndexScope, request: ReplayPageRequest): Prisma.Sql {
  const typed = request.types !== null && request.types.length > 0;
  const bound = Prisma.sql`(SELECT b FROM bound)`;
  const counted = typed
    ? Prisma.sql`CASE WHEN i.steps_before + i.step_count > ${bound} - 1 THEN 0 ELSE ${matchingSteps(request.types)} END`
    : Prisma.sql`LEAST(i.step_count, ${bound} - 1 - i.steps_before)`;
  // Without a type filter no row below the one holding B - want can hold a step of the page.
  const lowest = typed
    ? Prisma.empty
    : Prisma.sql`AND i.steps_before >= ${stepsBeforeRowHolding(scope, Prisma.sql`${bound} - ${request.want}`)}`;
  return Prisma.sql`bound AS (
        SELECT LEAST(COALESCE(${request.cursor}::int, 2147483647), COALESCE((
          SELECT i.steps_before + i.step_count FROM conversation_step_index i WHERE ${ownIndexRows(scope)}
           ORDER BY i.steps_before DESC, i.checkpoint_id DESC LIMIT 1) + 1, 1)) AS b
      ),
      win AS (
        SELECT * FROM (
          SELECT i.checkpoint_id, i.parent_checkpoint_id, i.steps_before, ${counted} AS counted,
                 SUM(${counted}) OVER (ORDER BY i.steps_before DESC, i.checkpoint_id DESC) AS through
            FROM conversation_step_index i
           WHERE ${ownIndexRows(scope)} AND i.steps_before < ${bound} - 1
                 ${lowest}
        ) x WHERE x.through - x.counted < ${request.want}
      )`;
}

/** `rows`: the window's checkpoint ids with their `steps_before`, and the parent of the first one (flagged). */
const windowAndParent = Prisma.sql`rows AS (
      SELECT false AS is_parent, checkpoint_id, steps_before FROM win
      UNION ALL
      SELECT true, p.parent_checkpoint_id, NULL
        FROM (SELECT parent_checkpoint_id FROM win ORDER BY steps_before, checkpoint_id LIMIT 1) p
       WHERE p.parent_checkpoint_id IS NOT NULL
    )`;

/**
 * The statement's rows: the freshness (one row even for an empty window) joined with each of `rows`' checkpoint rows
 * and the index facts of its `messages` list. The LATERAL … LIMIT 1 lookups keep these index probes whatever the
 * statistics say (a thread's rows are often newer than the last ANALYZE).
 */
function windowCheckpointsWithFacts({ threadId, namespace }: IndexScope): Prisma.Sql {
  return Prisma.sql`SELECT s.stale, r.is_parent AS "isParent", r.checkpoint_id AS "checkpointId",
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
}

/** SQL condition: the index row `i` is one of the (thread, namespace)'s. */
function ownIndexRows({ threadId, namespace }: IndexScope): Prisma.Sql {
  return Prisma.sql`i.thread_id = ${threadId} AND i.checkpoint_ns = ${namespace}`;
}

/**
 * SQL for the `steps_before` of the index row holding `ordinal`: the last non-empty row starting before it (0 when
 * none). ORDER BY … LIMIT 1 rather than MAX keeps an index probe whatever the statistics say.
 */
function stepsBeforeRowHolding(scope: IndexScope, ordinal: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`COALESCE((
    SELECT i.steps_before FROM conversation_step_index i WHERE ${ownIndexRows(scope)} AND i.steps_before < ${ordinal} AND i.step_count > 0
     ORDER BY i.steps_before DESC, i.checkpoint_id DESC LIMIT 1), 0)`;
}

/** SQL for the number of steps of an index row `i` that match the types (all steps without a filter). */
function matchingSteps(types: readonly ReplayStepType[] | null): Prisma.Sql {
  if (types === null || types.length === 0) return Prisma.sql`i.step_count`;
  return Prisma.sql`(SELECT COALESCE(SUM((i.type_counts ->> t)::int), 0) FROM unnest(${[...types]}::text[]) AS t)::int`;
}

/** The window of the page statement's rows: its checkpoints in ordinal order, the parent of the first, their facts. */
function windowRowsOf(rows: readonly WindowStatementRow[], namespace: string): WindowRows {
  const [state] = rows;
  if (state === undefined) return { found: false, facts: new Map(), stale: false, checkpoints: [], parent: null, stepsBefore: 0 };
  const found = rows.filter((row) => row.checkpointId !== null && row.checkpoint !== null);
  const windowRows = found
    .filter((row) => row.isParent === false)
    .sort((a, b) => (a.stepsBefore as number) - (b.stepsBefore as number) || compareText(a.checkpointId, b.checkpointId));
  const parentRow = found.find((row) => row.isParent === true);
  // Index rows whose checkpoint disappeared (deleted thread rows) make the window unusable: treat the index as stale.
  const expected = rows.filter((row) => row.checkpointId !== null).length;
  return {
    found: true,
    // In lineage order, so that a version's facts come from the checkpoint where it first appears (where it changed).
    facts: messagesFactsOfRows(parentRow === undefined ? windowRows : [parentRow, ...windowRows], namespace),
    stale: state.stale || found.length !== expected,
    checkpoints: windowRows.map((row) => asCheckpointRow(row as CheckpointColumns, namespace)),
    parent: parentRow === undefined ? null : asCheckpointRow(parentRow as CheckpointColumns, namespace),
    stepsBefore: windowRows[0]?.stepsBefore ?? 0,
  };
}

/** The index facts of the `messages` versions of rows in lineage order, each from the first row that has it. */
function messagesFactsOfRows(rows: readonly WindowStatementRow[], namespace: string): Map<string, MessagesBlobFacts> {
  const facts = new Map<string, MessagesBlobFacts>();
  for (const row of rows) {
    const version = messagesVersionOf(asCheckpointRow(row as CheckpointColumns, namespace));
    if (version === null || facts.has(version) || row.messagesBytes === null || row.messagesCount === null || row.messagesDigest === null)
      continue;
    facts.set(version, {
      bytes: row.messagesBytes,
      count: row.messagesCount,
      digest: row.messagesDigest,
      extendsPrevious: row.messagesExtendsParent === true,
    });
  }
  return facts;
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

/** Orders two checkpoint ids (uuids), for window rows with the same `steps_before`. */
function compareText(a: string | null, b: string | null): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
}
