/**
 * The conversation sync: discovers LangGraph threads in the checkpoint tables, attaches each to a tenant, keeps its
 * step index (replay.index-maintenance.ts) and its `conversations` row (rollups and status) up to date.
 *
 * - Change detection, in one statement per pass: a thread has changed when it has no conversation yet, when its newest
 *   root checkpoint is not `conversations.last_checkpoint_id`, or when the writes under that checkpoint are not the
 *   ones indexed (an interrupt, resume or error write lands under the newest checkpoint without creating a new one).
 *   Threads are enumerated with a skip scan of the checkpoints primary key, so a pass costs one probe per thread.
 * - Tenant: the first key `tenantMetadataKey` found in the thread's root checkpoint metadata, newest first (LangGraph
 *   Python copies the run's `config.metadata` into every checkpoint's metadata; LangGraph.js 1.x only into
 *   `updateState` checkpoints, so JS apps tag threads with a saver that does the same, or rely on the default), else
 *   the configured default tenant; threads with neither, or naming a tenant that does not exist, are skipped and
 *   counted. A thread keeps the tenant it was first attached to.
 * - Each changed thread is synced in its own transaction holding `pg_try_advisory_xact_lock` on the thread, and is
 *   checked again under the lock, so replicas running the sync at once split the work and never index a thread twice.
 * - Every namespace whose newest checkpoint (or its writes) is not indexed is indexed incrementally from its previous
 *   head; the root namespace always re-reads its head, whose interrupts and errors give the status.
 * - Cost is exact: tokens per model from the index times the configured price per million tokens, in decimal.
 * - Search (conversation.search-index.ts): the root graph is re-indexed from the newest checkpoint the sync has read
 *   (`last_checkpoint_id`) on, even where a replay indexed it meanwhile, so the sync sees every new step and keeps the
 *   thread's search steps, tools, models and metadata up to date incrementally.
 */
import type { Config } from '../config';
import {
  SearchStepCollector,
  mergeThreadMetadata,
  rootMetadataSince,
  writeSearchSteps,
  type JsonObject,
} from './conversation.search-index';
import { Prisma, type Database } from '../db/client';
import { ConversationStatus } from '../generated/prisma/enums';
import type { DecodedValue } from '../replay/checkpoint.decoder';
import { rollupsFromStepIndex, titleFromSteps, type ThreadRollups } from '../replay/replay.rollups';
import type { DbClient } from '../replay/replay.checkpoint-window';
import {
  INDEX_TRANSACTION,
  THREAD_LOCK_CLASS,
  firstUserMessageSteps,
  readStepIndex,
  refreshStepIndex,
  type ModelTokens,
  type StepIndexRefresh,
} from '../replay/replay.index-maintenance';
import { toJsonValue } from '../replay/replay.json';
import type { ReplayStep } from '../replay/replay.transformer';

/** What one sync pass did, for the log and the CLI. */
export interface ConversationSyncSummary {
  /** Threads with a root checkpoint in the checkpoint tables. */
  threads: number;
  /** Threads found new (with a tenant) or changed by the change detection, i.e. needing a sync. */
  changed: number;
  /** Conversations created (threads attached to a tenant for the first time). */
  created: number;
  /** Conversations whose rollups and index were refreshed. */
  updated: number;
  /**
   * Threads already synced: those the change detection found unchanged, and changed ones found synced once their lock
   * was held (another runner did them). So `threads` = created + updated + unchanged + busy + skipped + failed.
   */
  unchanged: number;
  /** Changed threads another runner was syncing at that moment (picked up by the next pass if still changed). */
  busy: number;
  /** Threads whose metadata has no tenant key while no default tenant is configured. */
  skippedNoTenant: number;
  /** Threads naming a tenant that does not exist (by metadata or CONVERSATION_DEFAULT_TENANT). */
  skippedUnknownTenant: number;
  /** The tenants those threads name, sorted (at most 10). */
  unknownTenants: string[];
  /** Threads whose sync failed (see `failures`); the others are synced regardless. */
  failed: number;
  /** Checkpoints transformed into step index rows, all namespaces together. */
  checkpointsIndexed: number;
  /** Models with tokens but no configured price (their cost counts as 0). */
  unpricedModels: string[];
  /** The first failures, by thread. */
  failures: { threadId: string; message: string }[];
}

/** Configuration of a sync (see {@link conversationSyncConfigOf}). */
export type ConversationSyncConfig = Pick<Config['conversations'], 'tenantMetadataKey' | 'defaultTenant' | 'modelPrices'> &
  Pick<Config['search'], 'textSearchConfig'>;

/** The sync's part of the configuration. */
export function conversationSyncConfigOf(config: Config): ConversationSyncConfig {
  return { ...config.conversations, textSearchConfig: config.search.textSearchConfig };
}

/** Failures kept in a summary; the count is always complete. */
const MAX_REPORTED_FAILURES = 10;

/** One thread found by the change detection. */
interface DiscoveredThread {
  threadId: string;
  /** The tenant named by the metadata key; null when no root checkpoint has it (or the thread has a conversation). */
  metadataTenant: string | null;
  hasConversation: boolean;
}

type ThreadOutcome = 'created' | 'updated' | 'unchanged' | 'busy';

/** Runs one sync pass over all threads of the checkpoint tables (see the module header). */
export async function syncConversations(
  db: Database,
  config: ConversationSyncConfig,
  /** Only these threads (LangGraph announced a write to them); all threads when omitted. */
  threadIds?: readonly string[],
): Promise<ConversationSyncSummary> {
  const summary: ConversationSyncSummary = {
    threads: 0,
    changed: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    busy: 0,
    skippedNoTenant: 0,
    skippedUnknownTenant: 0,
    unknownTenants: [],
    failed: 0,
    checkpointsIndexed: 0,
    unpricedModels: [],
    failures: [],
  };
  const { threads, total } = await discoverChangedThreads(db.prisma, config.tenantMetadataKey, threadIds);
  summary.threads = total;
  const candidates = [...new Set(threads.flatMap((thread) => (thread.hasConversation ? [] : (tenantOf(thread, config) ?? []))))];
  const knownTenants = new Set(
    candidates.length === 0
      ? []
      : (await db.prisma.tenant.findMany({ where: { id: { in: candidates } }, select: { id: true } })).map((t) => t.id),
  );
  const unpriced = new Set<string>();
  const unknownTenants = new Set<string>();
  for (const thread of threads) {
    let tenantId: string | null = null;
    if (!thread.hasConversation) {
      tenantId = tenantOf(thread, config);
      if (tenantId === null) {
        summary.skippedNoTenant += 1;
        continue;
      }
      if (!knownTenants.has(tenantId)) {
        summary.skippedUnknownTenant += 1;
        unknownTenants.add(tenantId);
        continue;
      }
    }
    try {
      const result = await db.prisma.$transaction((tx) => syncThread(tx, thread.threadId, tenantId, config), INDEX_TRANSACTION);
      summary[result.outcome] += 1;
      summary.checkpointsIndexed += result.checkpointsIndexed;
      for (const model of result.unpricedModels) unpriced.add(model);
    } catch (error) {
      summary.failed += 1;
      if (summary.failures.length < MAX_REPORTED_FAILURES) {
        summary.failures.push({ threadId: thread.threadId, message: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  summary.changed = threads.length - summary.skippedNoTenant - summary.skippedUnknownTenant;
  // Threads the change detection passed over are synced already.
  summary.unchanged += total - threads.length;
  summary.unknownTenants = [...unknownTenants].sort().slice(0, MAX_REPORTED_FAILURES);
  summary.unpricedModels = [...unpriced].sort();
  return summary;
}

/**
 * The cost in USD of tokens per model at the configured prices per million tokens, exact to 8 decimal places (the
 * `cost_usd` column's scale, rounded half up); models without a price cost 0 and are returned as unpriced.
 */
export function costOf(
  tokens: ModelTokens,
  prices: ConversationSyncConfig['modelPrices'],
): { costUsd: Prisma.Decimal; unpriced: string[] } {
  let cost = new Prisma.Decimal(0);
  const unpriced: string[] = [];
  for (const [model, used] of Object.entries(tokens)) {
    const price = prices[model];
    if (price === undefined) {
      if (used.input + used.output > 0) unpriced.push(model);
      continue;
    }
    // String() gives the shortest decimal that reads back as the configured number ("0.15"), so no binary float error
    // enters the product.
    cost = cost
      .plus(new Prisma.Decimal(used.input).times(String(price.input)))
      .plus(new Prisma.Decimal(used.output).times(String(price.output)));
  }
  return { costUsd: cost.dividedBy(1_000_000).toDecimalPlaces(8, Prisma.Decimal.ROUND_HALF_UP), unpriced };
}

function tenantOf(thread: DiscoveredThread, config: ConversationSyncConfig): string | null {
  return thread.metadataTenant ?? config.defaultTenant ?? null;
}

/** Statement of the change detection: changed threads only, plus the number of threads seen. */
async function discoverChangedThreads(
  client: DbClient,
  metadataKey: string,
  threadIds: readonly string[] | undefined,
): Promise<{ threads: DiscoveredThread[]; total: number }> {
  const threads =
    threadIds === undefined
      ? Prisma.sql`threads AS (
      (SELECT thread_id FROM checkpoints ORDER BY thread_id LIMIT 1)
      UNION ALL
      SELECT (SELECT k.thread_id FROM checkpoints k WHERE k.thread_id > t.thread_id ORDER BY k.thread_id LIMIT 1)
        FROM threads t WHERE t.thread_id IS NOT NULL
    )`
      : Prisma.sql`threads AS (SELECT DISTINCT unnest(${[...threadIds]}::text[]) AS thread_id)`;
  const rows = await client.$queryRaw<(DiscoveredThread & { total: number })[]>`
    WITH RECURSIVE ${threads},
    heads AS (
      SELECT t.thread_id, h.checkpoint_id AS head_id
        FROM threads t
        JOIN LATERAL (SELECT checkpoint_id FROM checkpoints k WHERE k.thread_id = t.thread_id AND k.checkpoint_ns = ''
                       ORDER BY k.checkpoint_id DESC LIMIT 1) h ON true
       WHERE t.thread_id IS NOT NULL
    ),
    changed AS (
      SELECT h.thread_id, c.id AS conversation_id
        FROM heads h
        LEFT JOIN conversations c ON c.thread_id = h.thread_id
        LEFT JOIN conversation_step_index i ON i.thread_id = h.thread_id AND i.checkpoint_ns = '' AND i.checkpoint_id = h.head_id
       WHERE c.id IS NULL
          OR c.last_checkpoint_id IS DISTINCT FROM h.head_id
          OR i.write_count IS DISTINCT FROM (SELECT COUNT(*)::int FROM checkpoint_writes w
                                              WHERE w.thread_id = h.thread_id AND w.checkpoint_ns = '' AND w.checkpoint_id = h.head_id)
    )
    SELECT ch.thread_id AS "threadId", ch.conversation_id IS NOT NULL AS "hasConversation",
           CASE WHEN ch.conversation_id IS NULL THEN (
             SELECT k.metadata ->> ${metadataKey} FROM checkpoints k
              WHERE k.thread_id = ch.thread_id AND k.checkpoint_ns = '' AND k.metadata ->> ${metadataKey} IS NOT NULL
              ORDER BY k.checkpoint_id DESC LIMIT 1)
           END AS "metadataTenant",
           (SELECT COUNT(*)::int FROM heads) AS total
      FROM (SELECT 1) one
      LEFT JOIN changed ch ON true
     ORDER BY ch.thread_id`;
  return {
    threads: rows.filter((row) => row.threadId !== null),
    total: rows[0]?.total ?? 0,
  };
}

/** Syncs one thread inside its transaction: lock, check again, index its namespaces, write its conversation row. */
async function syncThread(
  tx: Prisma.TransactionClient,
  threadId: string,
  tenantId: string | null,
  config: ConversationSyncConfig,
): Promise<{ outcome: ThreadOutcome; checkpointsIndexed: number; unpricedModels: string[] }> {
  const idle = (outcome: ThreadOutcome) => ({ outcome, checkpointsIndexed: 0, unpricedModels: [] });
  const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(${THREAD_LOCK_CLASS}::int, hashtext(${threadId})) AS locked`;
  if (lock?.locked !== true) return idle('busy');

  const conversation = await tx.conversation.findUnique({ where: { threadId } });
  const namespaces = await tx.$queryRaw<{ namespace: string; headId: string; fresh: boolean }[]>`
    SELECT h.checkpoint_ns AS namespace, h.head_id AS "headId",
           i.write_count IS NOT DISTINCT FROM (SELECT COUNT(*)::int FROM checkpoint_writes w
             WHERE w.thread_id = ${threadId} AND w.checkpoint_ns = h.checkpoint_ns AND w.checkpoint_id = h.head_id) AS fresh
      FROM (SELECT checkpoint_ns, MAX(checkpoint_id) AS head_id FROM checkpoints WHERE thread_id = ${threadId}
             GROUP BY checkpoint_ns) h
      LEFT JOIN conversation_step_index i ON i.thread_id = ${threadId} AND i.checkpoint_ns = h.checkpoint_ns AND i.checkpoint_id = h.head_id
     ORDER BY h.checkpoint_ns`;
  const root = namespaces.find((row) => row.namespace === '');
  if (root === undefined) return idle('unchanged');
  if (conversation !== null && conversation.lastCheckpointId === root.headId && root.fresh) return idle('unchanged');
  const owner = conversation?.tenantId ?? tenantId;
  if (owner === null) return idle('unchanged');

  let checkpointsIndexed = 0;
  for (const { namespace, fresh } of namespaces) {
    if (namespace === '' || fresh) continue;
    checkpointsIndexed += (await refreshStepIndex(tx, threadId, namespace)).checkpointsIndexed;
  }
  // A replay may have indexed root checkpoints since the last pass; forgetting them makes the refresh hand every step
  // since that pass to the search index (all of them for a new thread, or after a migration cleared last_checkpoint_id).
  const lastRead = conversation?.lastCheckpointId ?? null;
  await tx.$executeRaw`
    DELETE FROM conversation_step_index WHERE thread_id = ${threadId} AND checkpoint_ns = '' AND checkpoint_id > ${lastRead ?? ''}`;
  // The root is always refreshed: at least its head is transformed again, for the status.
  const searchSteps = new SearchStepCollector();
  const refreshed = await refreshStepIndex(tx, threadId, '', searchSteps.collect);
  checkpointsIndexed += refreshed.checkpointsIndexed;
  const metadata = mergeThreadMetadata(
    lastRead === null ? {} : ((conversation?.metadata ?? {}) as JsonObject),
    await rootMetadataSince(tx, threadId, lastRead),
  );

  const index = await readStepIndex(tx, threadId, '');
  const title = conversation?.title ?? titleFromSteps(await firstUserMessageOf(tx, threadId, refreshed));
  const rollups = rollupsFromStepIndex(
    index.map((row) => row.entry),
    refreshed.headSteps,
    title,
  );
  const tokens: ModelTokens = {};
  const models = new Set<string>();
  for (const { entry, modelTokens } of index) {
    for (const model of entry.models) models.add(model);
    for (const [model, used] of Object.entries(modelTokens)) {
      const sums = (tokens[model] ??= { input: 0, output: 0 });
      sums.input += used.input;
      sums.output += used.output;
    }
  }
  const { costUsd, unpriced } = costOf(tokens, config.modelPrices);
  const data = { ...conversationData(rollups, costUsd), metadata, models: [...models] };
  const { id } =
    conversation === null
      ? await tx.conversation.create({ data: { ...data, threadId, tenantId: owner }, select: { id: true } })
      : await tx.conversation.update({ where: { id: conversation.id }, data, select: { id: true } });
  const toolNames = await writeSearchSteps(tx, id, searchSteps, refreshed.rebuilt, config.textSearchConfig);
  await tx.conversation.update({ where: { id }, data: { toolNames }, select: { id: true } });
  return { outcome: conversation === null ? 'created' : 'updated', checkpointsIndexed, unpricedModels: unpriced };
}

/** The thread's first USER_MESSAGE step: seen by the refresh when it indexed the root from its start, else looked up. */
async function firstUserMessageOf(tx: Prisma.TransactionClient, threadId: string, refreshed: StepIndexRefresh): Promise<ReplayStep[]> {
  if (refreshed.rebuilt) return refreshed.firstUserMessage === null ? [] : [refreshed.firstUserMessage];
  return (await firstUserMessageSteps(tx, threadId, '')) ?? [];
}

/** The `conversations` columns the sync maintains. */
function conversationData(rollups: ThreadRollups, costUsd: Prisma.Decimal) {
  return {
    title: rollups.title,
    status: ConversationStatus[rollups.status],
    ...(rollups.firstActivityAt === null ? {} : { createdAt: new Date(rollups.firstActivityAt) }),
    ...(rollups.lastActivityAt === null ? {} : { lastActivityAt: new Date(rollups.lastActivityAt) }),
    stepCount: rollups.stepCount,
    inputTokens: BigInt(rollups.inputTokens),
    outputTokens: BigInt(rollups.outputTokens),
    totalTokens: BigInt(rollups.inputTokens + rollups.outputTokens),
    reasoningTokens: BigInt(rollups.reasoningTokens),
    costUsd,
    pendingInterrupt: jsonColumn(rollups.pendingInterrupt),
    lastError: jsonColumn(rollups.lastError),
    lastCheckpointId: rollups.lastCheckpointId,
  } satisfies Prisma.ConversationUncheckedUpdateInput;
}

function jsonColumn(value: ThreadRollups['pendingInterrupt'] | ThreadRollups['lastError']): Prisma.InputJsonValue | typeof Prisma.DbNull {
  if (value === null) return Prisma.DbNull;
  // Interrupt values are decoded checkpoint data (possibly bytes or undefined), stored in their JSON-safe form; the
  // interfaces lack DecodedValue's index signature, hence the cast.
  return toJsonValue(value as unknown as DecodedValue) ?? Prisma.DbNull;
}
