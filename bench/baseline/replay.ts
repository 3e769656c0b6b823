// The baseline's replay page in one statement (convoql needs three): the window of the step index, its
// checkpoints, their writes, the trigger blobs' types, and — as convoql does — only the newest `messages` list of
// each stretch of checkpoints whose lists extend one another (the index facts tell which), the older lists being
// served as the first N messages of it. Unlike convoql it trusts those facts without checking digests. Then
// convoql's own replay engine (src/replay, no GraphQL) turns the rows into steps.
import type { Pool } from 'pg';
import { prepared } from './prepared';
import { decodeEncodedValue, type DecodedValue, type EncodedValue } from '../../src/replay/checkpoint.decoder';
import {
  CheckpointBlobStore,
  CheckpointWriteStore,
  SpecialChannel,
  type BlobRow,
  type CheckpointRow,
  type WriteRow,
} from '../../src/replay/checkpoint.rows';
import { transformCheckpointWindow, type ReplayStep } from '../../src/replay/replay.transformer';
import { keyOfGlobalId, toGlobalId } from './encoding';
import { connectionOf, pageRequest, type PageArguments } from './keyset';

interface ReplayVariables extends PageArguments {
  id: string;
  types?: string[] | null;
  namespace?: string | null;
}

/** One row of the statement; `kind` tells which columns are set. */
interface WindowRow {
  kind: 'conversation' | 'checkpoint' | 'messages' | 'trigger' | 'write';
  thread_id: string | null;
  step_count: number | null;
  total: number | null;
  is_parent: boolean | null;
  checkpoint_id: string | null;
  parent_checkpoint_id: string | null;
  steps_before: number | null;
  checkpoint: unknown;
  metadata: unknown;
  channel: string | null;
  version: string | null;
  type: string | null;
  blob: Buffer | null;
  task_id: string | null;
  idx: number | null;
  ord: number | null;
  messages_count: number | null;
  is_anchor: boolean | null;
}

const WINDOW_STATEMENT = `
  WITH conv AS (
    SELECT id, thread_id, step_count FROM conversations WHERE id = $1::uuid AND tenant_id = $2
  ),
  -- Scalar subqueries, so that PostgreSQL computes the start once (as an InitPlan), not once per index row.
  win AS (
    SELECT i.checkpoint_id, i.steps_before FROM conversation_step_index i
     WHERE i.thread_id = (SELECT thread_id FROM conv) AND i.checkpoint_ns = $3 AND i.steps_before < $4::int + $5::int
       AND i.steps_before >= (
         SELECT COALESCE(MAX(s.steps_before), 0) FROM conversation_step_index s
          WHERE s.thread_id = (SELECT thread_id FROM conv) AND s.checkpoint_ns = $3 AND s.steps_before <= $4::int AND s.step_count > 0)
  ),
  window_checkpoints AS (
    SELECT k.checkpoint_id, k.parent_checkpoint_id, k.checkpoint, k.metadata, win.steps_before, false AS is_parent,
           row_number() OVER (ORDER BY win.steps_before, win.checkpoint_id) AS ord
      FROM conv, win, checkpoints k
     WHERE k.thread_id = conv.thread_id AND k.checkpoint_ns = $3 AND k.checkpoint_id = win.checkpoint_id
  ),
  all_checkpoints AS (
    SELECT * FROM window_checkpoints
    UNION ALL
    SELECT k.checkpoint_id, k.parent_checkpoint_id, k.checkpoint, k.metadata, NULL, true, 0
      FROM conv, (SELECT parent_checkpoint_id FROM window_checkpoints WHERE ord = 1) first_row, checkpoints k
     WHERE k.thread_id = conv.thread_id AND k.checkpoint_ns = $3 AND k.checkpoint_id = first_row.parent_checkpoint_id
  ),
  -- Each messages version where it first appears, with the index facts of that checkpoint.
  versions AS (
    SELECT DISTINCT ON (c.checkpoint -> 'channel_versions' ->> '${SpecialChannel.messages}')
           c.checkpoint -> 'channel_versions' ->> '${SpecialChannel.messages}' AS version, c.ord, f.messages_count, f.messages_extends_parent
      FROM conv CROSS JOIN all_checkpoints c
      LEFT JOIN conversation_step_index f ON f.thread_id = conv.thread_id AND f.checkpoint_ns = $3 AND f.checkpoint_id = c.checkpoint_id
     WHERE c.checkpoint -> 'channel_versions' ? '${SpecialChannel.messages}'
     ORDER BY c.checkpoint -> 'channel_versions' ->> '${SpecialChannel.messages}', c.ord
  ),
  -- An anchor is the newest list of a stretch: the next version does not extend it (or its own facts are missing).
  message_versions AS (
    SELECT version, ord, messages_count,
           messages_count IS NULL OR (LEAD(messages_extends_parent) OVER (ORDER BY ord)) IS NOT TRUE AS is_anchor
      FROM versions
  ),
  trigger_keys AS (
    SELECT DISTINCT v.key AS channel, v.value AS version
      FROM all_checkpoints c, jsonb_each_text(c.checkpoint -> 'channel_versions') v
     WHERE v.key = '${SpecialChannel.start}' OR v.key LIKE 'branch:to:%' OR v.key LIKE 'join:%'
  )
  SELECT 'conversation' AS kind, conv.thread_id, conv.step_count,
         (SELECT COALESCE(SUM(i.step_count), 0)::int FROM conversation_step_index i WHERE i.thread_id = conv.thread_id AND i.checkpoint_ns = $3) AS total,
         NULL::boolean AS is_parent, NULL AS checkpoint_id, NULL AS parent_checkpoint_id, NULL::int AS steps_before, NULL::jsonb AS checkpoint,
         NULL::jsonb AS metadata, NULL AS channel, NULL AS version, NULL AS type, NULL::bytea AS blob, NULL AS task_id, NULL::int AS idx,
         NULL::bigint AS ord, NULL::int AS messages_count, NULL::boolean AS is_anchor
    FROM conv
  UNION ALL
  SELECT 'checkpoint', NULL, NULL, NULL, c.is_parent, c.checkpoint_id, c.parent_checkpoint_id, c.steps_before, c.checkpoint, c.metadata,
         NULL, NULL, NULL, NULL, NULL, NULL, c.ord, NULL, NULL
    FROM all_checkpoints c
  UNION ALL
  SELECT 'messages', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         '${SpecialChannel.messages}', v.version, b.type, CASE WHEN v.is_anchor THEN b.blob END, NULL, NULL, v.ord, v.messages_count, v.is_anchor
    FROM conv CROSS JOIN message_versions v
    LEFT JOIN checkpoint_blobs b
      ON v.is_anchor AND b.thread_id = conv.thread_id AND b.checkpoint_ns = $3 AND b.channel = '${SpecialChannel.messages}' AND b.version = v.version
  UNION ALL
  SELECT 'trigger', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, b.channel, b.version, b.type, NULL, NULL, NULL, NULL, NULL, NULL
    FROM conv, trigger_keys k, checkpoint_blobs b
   WHERE b.thread_id = conv.thread_id AND b.checkpoint_ns = $3 AND b.channel = k.channel AND b.version = k.version
  UNION ALL
  SELECT 'write', NULL, NULL, NULL, NULL, w.checkpoint_id, NULL, NULL, NULL, NULL,
         w.channel, NULL, w.type, w.blob, w.task_id, w.idx, NULL, NULL, NULL
    FROM conv, checkpoint_writes w
   WHERE w.thread_id = conv.thread_id AND w.checkpoint_ns = $3 AND w.checkpoint_id IN (SELECT checkpoint_id FROM all_checkpoints)`;

/** `conversation(id) { … replay(first, after) }` of ConversationReplay (forward pages of all step types). */
export async function conversationReplay(pool: Pool, tenantId: string, variables: ReplayVariables) {
  const key = keyOfGlobalId('Conversation', variables.id);
  if (key === null) return { conversation: null };
  if (variables.types?.length || variables.last != null || variables.before != null) {
    throw new Error('the baseline answers forward replay pages of all step types only');
  }
  const namespace = variables.namespace ?? '';
  // As convoql's: bound to the conversation and the namespace.
  const listKey = `ReplayStep:${key}:${namespace}`;
  const page = pageRequest(variables, listKey);
  const after = page.seek === null ? 0 : Number(page.seek.value);
  const want = page.limit + 1;
  const { rows } = await prepared<WindowRow>(pool, WINDOW_STATEMENT, [key, tenantId, namespace, after, want]);
  const conversation = rows.find((row) => row.kind === 'conversation');
  if (!conversation) return { conversation: null };

  const checkpointRow = (row: WindowRow): CheckpointRow => ({
    checkpointNs: namespace,
    checkpointId: row.checkpoint_id!,
    parentCheckpointId: row.parent_checkpoint_id,
    checkpoint: row.checkpoint,
    metadata: row.metadata,
  });
  const windowRows = rows
    .filter((row) => row.kind === 'checkpoint' && row.is_parent === false)
    .sort((a, b) => a.steps_before! - b.steps_before! || (a.checkpoint_id! < b.checkpoint_id! ? -1 : 1));
  const parentRow = rows.find((row) => row.kind === 'checkpoint' && row.is_parent === true);
  const blobs = blobStoreOf(rows);
  const writes: WriteRow[] = rows
    .filter((row) => row.kind === 'write')
    .map((row) => ({
      checkpointId: row.checkpoint_id!,
      taskId: row.task_id!,
      idx: row.idx!,
      channel: row.channel!,
      type: row.type,
      blob: row.blob!,
    }));
  const steps =
    windowRows.length === 0
      ? []
      : transformCheckpointWindow({
          checkpoints: windowRows.map(checkpointRow),
          parentOfFirst: parentRow ? checkpointRow(parentRow) : null,
          blobs,
          writes: new CheckpointWriteStore(writes),
          stepsBefore: windowRows[0]!.steps_before!,
        });
  const pageSteps = steps.filter((step) => step.ordinal > after).slice(0, want);
  const { edges, pageInfo } = connectionOf(
    pageSteps,
    page,
    listKey,
    (step) => ({ value: step.ordinal, id: String(step.ordinal) }),
    stepJson,
  );
  return {
    conversation: {
      id: toGlobalId('Conversation', key),
      threadId: conversation.thread_id,
      stepCount: conversation.step_count,
      replay: { totalCount: conversation.total, pageInfo, edges },
    },
  };
}

/**
 * The trigger blobs (type only) and the `messages` lists: anchors decoded from their bytes (once), every other version
 * served as the first `messages_count` messages of the next anchor, through marker rows the decode function knows.
 */
function blobStoreOf(rows: readonly WindowRow[]): CheckpointBlobStore {
  const blobRows: BlobRow[] = rows
    .filter((row) => row.kind === 'trigger')
    .map((row) => ({ channel: row.channel!, version: row.version!, type: row.type! }));
  const served = new Map<Uint8Array, () => DecodedValue>();
  const versions = rows.filter((row) => row.kind === 'messages').sort((a, b) => Number(a.ord) - Number(b.ord));
  let anchor: (() => DecodedValue[]) | null = null;
  for (const row of versions.reverse()) {
    const count = row.messages_count;
    if (!row.is_anchor && anchor !== null && count !== null) {
      const source = anchor;
      const marker = new Uint8Array(0);
      served.set(marker, () => source().slice(0, count));
      blobRows.push({ channel: SpecialChannel.messages, version: row.version!, type: 'json', blob: marker });
      continue;
    }
    if (row.type === null) {
      anchor = null;
      continue;
    }
    const encoded: EncodedValue = { type: row.type, blob: row.blob };
    let parsed: DecodedValue[] | undefined;
    const parse = () => (parsed ??= decodeEncodedValue(encoded) as DecodedValue[]);
    if (row.blob !== null) served.set(row.blob, parse);
    blobRows.push({ channel: SpecialChannel.messages, version: row.version!, type: row.type, blob: row.blob });
    anchor = parse;
  }
  return new CheckpointBlobStore(
    blobRows,
    (value) => (value.blob === null ? undefined : served.get(value.blob))?.() ?? decodeEncodedValue(value),
  );
}

/** A step as ConversationReplay selects it (convoql's ReplayStep.fromStep). */
function stepJson(step: ReplayStep) {
  return {
    ordinal: step.ordinal,
    type: step.type,
    timestamp: new Date(step.timestamp),
    durationMs: step.durationMs,
    node: step.node,
    checkpointId: step.checkpointId,
    namespace: step.namespace,
    taskId: step.taskId,
    messageId: step.messageId,
    content: step.content,
    toolName: step.toolName,
    toolCallId: step.toolCallId,
    params: jsonValue(step.params),
    result: jsonValue(step.result),
    status: step.status === null ? null : step.status === 'success' ? 'SUCCESS' : 'ERROR',
    reasoning: step.reasoning,
    tokenUsage:
      step.tokens === null
        ? null
        : { input: step.tokens.input, output: step.tokens.output, total: step.tokens.total, reasoning: step.tokens.reasoning },
    model: step.model,
    interruptId: step.interruptId,
  };
}

/** A decoded value in JSON form: bytes as base64, undefined as null (as convoql's toJsonValue). */
function jsonValue(value: DecodedValue): unknown {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).flatMap(([name, item]) => (item === undefined ? [] : [[name, jsonValue(item)]])));
  }
  return value;
}
