// The baseline's conversations table: page and total in one statement, JSON shaped as ConversationsTable.
import type { Pool } from 'pg';
import { prepared } from './prepared';
import { toGlobalId } from './encoding';
import { connectionOf, keysetSql, pageRequest, type PageArguments } from './keyset';

interface ConversationsVariables extends PageArguments {
  filter?: {
    status?: string[] | null;
    createdAfter?: string | null;
    createdBefore?: string | null;
    lastActivityAfter?: string | null;
    lastActivityBefore?: string | null;
  } | null;
  orderBy?: { field?: 'LAST_ACTIVITY_AT' | 'CREATED_AT'; direction?: 'ASC' | 'DESC' } | null;
}

interface ConversationRow {
  id: string;
  thread_id: string;
  title: string | null;
  status: string;
  created_at: Date;
  last_activity_at: Date;
  step_count: number;
  input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  pending_interrupt: unknown;
  last_error: unknown;
}

/** `conversations(...)` of ConversationsTable. */
export async function conversationsTable(pool: Pool, tenantId: string, variables: ConversationsVariables) {
  const field = variables.orderBy?.field ?? 'LAST_ACTIVITY_AT';
  const descending = (variables.orderBy?.direction ?? 'DESC') === 'DESC';
  const column = field === 'LAST_ACTIVITY_AT' ? 'last_activity_at' : 'created_at';
  const listKey = `Conversation:${field}`;
  const page = pageRequest(variables, listKey);
  const params: unknown[] = [tenantId];
  const conditions = ['tenant_id = $1'];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  const filter = variables.filter;
  if (filter?.status?.length) add((p) => `status = ANY(${p}::conversation_status[])`, filter.status);
  if (filter?.createdAfter) add((p) => `created_at >= ${p}::timestamptz`, filter.createdAfter);
  if (filter?.createdBefore) add((p) => `created_at < ${p}::timestamptz`, filter.createdBefore);
  if (filter?.lastActivityAfter) add((p) => `last_activity_at >= ${p}::timestamptz`, filter.lastActivityAfter);
  if (filter?.lastActivityBefore) add((p) => `last_activity_at < ${p}::timestamptz`, filter.lastActivityBefore);
  const where = conditions.join(' AND ');
  const keyset = keysetSql(column, descending, page, params);
  const result = await prepared<ConversationRow & { total: number }>(
    pool,
    `WITH page AS (
       SELECT id, thread_id, title, status::text AS status, created_at, last_activity_at, step_count,
         input_tokens::text AS input_tokens, output_tokens::text AS output_tokens, reasoning_tokens::text AS reasoning_tokens,
         cost_usd::text AS cost_usd, pending_interrupt, last_error
       FROM conversations WHERE ${where} AND ${keyset.where}
       ORDER BY ${keyset.orderBy} LIMIT ${page.limit + 1}
     )
     SELECT total.n AS total, page.*
     FROM (SELECT count(*)::int AS n FROM conversations WHERE ${where}) total
     LEFT JOIN page ON TRUE
     ORDER BY ${keyset.orderBy.replace(/(\w+) (ASC|DESC)/g, 'page.$1 $2')}`,
    params,
  );
  const rows = result.rows.filter((row) => row.id !== null);
  const { edges, pageInfo } = connectionOf(
    rows,
    page,
    listKey,
    (row) => ({ value: row[column].toISOString(), id: row.id }),
    (row) => {
      const input = Number(row.input_tokens);
      const output = Number(row.output_tokens);
      return {
        id: toGlobalId('Conversation', row.id),
        threadId: row.thread_id,
        title: row.title,
        status: row.status,
        createdAt: row.created_at,
        lastActivityAt: row.last_activity_at,
        stepCount: row.step_count,
        tokenUsage: { input, output, total: input + output, reasoning: Number(row.reasoning_tokens) },
        costUsd: row.cost_usd,
        pendingInterrupts: row.status === 'INTERRUPTED' ? pendingInterruptsOf(row.pending_interrupt) : [],
        lastError: row.status === 'ERROR' ? errorOf(row.last_error) : null,
      };
    },
  );
  return { conversations: { totalCount: result.rows[0]?.total ?? 0, pageInfo, edges } };
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** As convoql reads the stored pending interrupt: `{checkpointId, interrupts:[…]}` or a single `{id, value}`. */
function pendingInterruptsOf(stored: unknown) {
  const root = record(stored);
  if (!root) return [];
  const checkpointId = text(root.checkpointId);
  const items = Array.isArray(root.interrupts) ? (root.interrupts as unknown[]) : [root];
  return items.flatMap((item) => {
    const entry = record(item);
    return entry ? [{ interruptId: text(entry.interruptId) ?? text(entry.id), node: text(entry.node), checkpointId }] : [];
  });
}

function errorOf(stored: unknown) {
  const error = record(stored);
  if (!error) return null;
  return { name: text(error.name) ?? 'Error', message: text(error.message) ?? '', node: text(error.node) };
}
