/**
 * What the conversation sync stores for search, beside the rollups: the thread's metadata, and its search steps (the
 * text of each user and assistant message with its tsvector, and each tool call's tool) in `conversation_search_steps`.
 * Both are kept incrementally: metadata merges the root checkpoints written since the last pass, and search steps
 * are replaced from the first root checkpoint the step index (re)indexed on.
 */
import { Prisma } from '../db/client';
import type { DbClient } from '../replay/replay.checkpoint-window';
import type { CheckpointSteps } from '../replay/replay.transformer';

/**
 * Keys LangGraph writes into checkpoint metadata for its own bookkeeping, never the run's metadata: the keys of
 * LangGraph.js 1.x (`source`, `step`, `parents`, and `counters_since_delta_snapshot`, `delta_writes_versioned` of delta
 * channels), the `writes` of older versions, the configurable keys LangGraph Python copies (`thread_id`, `thread_ts`,
 * `checkpoint_*`) and `run_id`, which names one run rather than the thread. Keys starting with `langgraph_`
 * (`langgraph_step`, `langgraph_node`, … and LangGraph Platform's `langgraph_version`, …) or `__` are LangGraph's too,
 * and those starting with `ls_` are LangSmith's tracing keys LangChain adds to a run's metadata (`ls_integration`).
 */
const LANGGRAPH_METADATA_KEYS: ReadonlySet<string> = new Set([
  'source',
  'step',
  'parents',
  'writes',
  'counters_since_delta_snapshot',
  'delta_writes_versioned',
  'thread_id',
  'thread_ts',
  'checkpoint_id',
  'checkpoint_ns',
  'checkpoint_map',
  'run_id',
]);

/** Whether a checkpoint metadata key is LangGraph's own bookkeeping (see LANGGRAPH_METADATA_KEYS). */
export function isLangGraphMetadataKey(key: string): boolean {
  return LANGGRAPH_METADATA_KEYS.has(key) || key.startsWith('langgraph_') || key.startsWith('__') || key.startsWith('ls_');
}

/** A JSON object as stored in a jsonb column. */
export type JsonObject = Record<string, Prisma.JsonValue>;

/**
 * The thread's metadata after `checkpoints` (root checkpoint metadata, oldest first) are added to `previous`: every
 * key but LangGraph's own, a later checkpoint's value replacing an earlier one (runs of a thread may differ).
 */
export function mergeThreadMetadata(previous: JsonObject, checkpoints: readonly Prisma.JsonValue[]): JsonObject {
  const merged: JsonObject = { ...previous };
  for (const metadata of checkpoints) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) continue;
    for (const [key, value] of Object.entries(metadata)) {
      if (!isLangGraphMetadataKey(key) && value !== undefined) merged[key] = value;
    }
  }
  return merged;
}

/** Root checkpoint metadata written after `afterCheckpointId` (all when null), oldest first. */
export async function rootMetadataSince(client: DbClient, threadId: string, afterCheckpointId: string | null): Promise<Prisma.JsonValue[]> {
  const rows = await client.$queryRaw<{ metadata: Prisma.JsonValue }[]>`
    SELECT metadata FROM checkpoints
     WHERE thread_id = ${threadId} AND checkpoint_ns = '' AND checkpoint_id > ${afterCheckpointId ?? ''}
     ORDER BY checkpoint_id`;
  return rows.map((row) => row.metadata);
}

/** Characters of a message that are stored and indexed: a tsvector holds at most 1 MB, and longer text is rare. */
export const MAX_INDEXED_MESSAGE_LENGTH = 100_000;

/** One row of `conversation_search_steps` before it has a conversation. */
export interface SearchStep {
  checkpointId: string;
  ordinal: number;
  type: 'USER_MESSAGE' | 'ASSISTANT_MESSAGE' | 'TOOL_CALL';
  content: string;
}

/** Collects the search steps of the checkpoints a step index refresh hands over, and where they start. */
export class SearchStepCollector {
  readonly steps: SearchStep[] = [];
  /** The first checkpoint (re)indexed: rows from it on are replaced. */
  firstCheckpointId: string | null = null;

  /** Pass as `refreshStepIndex`'s `onIndexed`. */
  readonly collect = (checkpoints: readonly CheckpointSteps[]): void => {
    for (const checkpoint of checkpoints) {
      this.firstCheckpointId ??= checkpoint.checkpointId;
      for (const step of checkpoint.steps) {
        const content = step.type === 'TOOL_CALL' ? step.toolName : step.content;
        if ((step.type === 'USER_MESSAGE' || step.type === 'ASSISTANT_MESSAGE' || step.type === 'TOOL_CALL') && content) {
          this.steps.push({
            checkpointId: checkpoint.checkpointId,
            ordinal: step.ordinal,
            type: step.type,
            content: content.slice(0, MAX_INDEXED_MESSAGE_LENGTH),
          });
        }
      }
    }
  };
}

/**
 * Replaces the conversation's search steps from the collector's first checkpoint on (all of them when the index was
 * rebuilt) with the collected ones, and returns the tools the conversation has called, sorted.
 */
export async function writeSearchSteps(
  client: DbClient,
  conversationId: string,
  collected: SearchStepCollector,
  rebuilt: boolean,
  textSearchConfig: string,
): Promise<string[]> {
  if (rebuilt || collected.firstCheckpointId !== null) {
    await client.$executeRaw`
      DELETE FROM conversation_search_steps
       WHERE conversation_id = ${conversationId}::uuid
         AND (${rebuilt} OR checkpoint_id >= ${collected.firstCheckpointId ?? ''})`;
  }
  const { steps } = collected;
  if (steps.length > 0) {
    await client.$executeRaw`
      INSERT INTO conversation_search_steps (conversation_id, checkpoint_id, ordinal, type, content, tsv)
      SELECT ${conversationId}::uuid, s.checkpoint_id, s.ordinal, s.type, s.content,
             CASE WHEN s.type = 'TOOL_CALL' THEN NULL ELSE to_tsvector(${textSearchConfig}::regconfig, s.content) END
        FROM unnest(${steps.map((step) => step.checkpointId)}::text[], ${steps.map((step) => step.ordinal)}::int[],
                    ${steps.map((step) => step.type)}::text[], ${steps.map((step) => step.content)}::text[])
             AS s(checkpoint_id, ordinal, type, content)`;
  }
  const [row] = await client.$queryRaw<{ tools: string[] }[]>`
    SELECT coalesce(array_agg(DISTINCT content ORDER BY content), '{}') AS tools
      FROM conversation_search_steps WHERE conversation_id = ${conversationId}::uuid AND type = 'TOOL_CALL'`;
  return row?.tools ?? [];
}
