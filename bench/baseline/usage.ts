// The baseline's usage tiles: convoql's usage statement (src/analytics/usage.repository.ts) sent
// directly, so the difference measures only what sits around the SQL.
import type { Pool } from 'pg';
import { loadConfig } from '../../src/config';

type GroupBy = 'DAY' | 'WEEK' | 'CHANNEL' | 'STATUS' | 'MODEL';

interface UsageVariables {
  groupBy: GroupBy;
  filter?: { from?: string | null; to?: string | null; channel?: string[] | null; status?: string[] | null } | null;
}

interface UsageRow {
  key: string;
  sessions: number | null;
  messages: number | null;
  conversations: number | null;
  input_tokens: string | null;
  output_tokens: string | null;
  cost_usd: string | null;
  duration_p50: number | null;
  duration_p95: number | null;
  latency_p50: number | null;
  latency_p95: number | null;
}

const DAY_MS = 86_400_000;
/** convoql's default model prices (MODEL_PRICES unset), as its configuration resolves them. */
const MODEL_PRICES = JSON.stringify(loadConfig({}).conversations.modelPrices);

function bucketKeys(groupBy: GroupBy): { session: string | null; message: string; conversation: string | null } {
  const time = (column: string) =>
    `to_char(date_trunc('${groupBy === 'WEEK' ? 'week' : 'day'}', ${column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`;
  switch (groupBy) {
    case 'DAY':
    case 'WEEK':
      return { session: time('s.started_at'), message: time('m.created_at'), conversation: time('c.last_activity_at') };
    case 'CHANNEL':
      return { session: 's.channel', message: 's.channel', conversation: null };
    case 'STATUS':
      return { session: 's.status::text', message: 's.status::text', conversation: null };
    case 'MODEL':
      return { session: null, message: `coalesce(m.metadata->>'model', 'unknown')`, conversation: null };
  }
}

/** `usage(groupBy, filter)` of UsageTiles in one statement. */
export async function usageTiles(pool: Pool, tenantId: string, variables: UsageVariables) {
  const to = variables.filter?.to ? new Date(variables.filter.to) : new Date();
  const from = variables.filter?.from ? new Date(variables.filter.from) : new Date(to.getTime() - 30 * DAY_MS);
  const channel = variables.filter?.channel?.length ? variables.filter.channel : null;
  const status = variables.filter?.status?.length ? variables.filter.status : null;
  const keys = bucketKeys(variables.groupBy);
  const params: unknown[] = [tenantId, from, to, MODEL_PRICES];
  const sessionConditions = ['TRUE'];
  if (channel) sessionConditions.push(`s.channel = ANY($${params.push(channel)}::text[])`);
  if (status) sessionConditions.push(`s.status::text = ANY($${params.push(status)}::text[])`);
  const sessionFilter = sessionConditions.join(' AND ');
  const duration = 'extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)';
  const sessionsPart = keys.session
    ? `SELECT ${keys.session} AS key, count(*)::int AS sessions,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95
       FROM sessions s
       WHERE s.tenant_id = $1 AND s.started_at >= $2 AND s.started_at < $3 AND ${sessionFilter}
       GROUP BY 1`
    : `SELECT ${keys.message} AS key, count(DISTINCT m.session_id)::int AS sessions,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95
       FROM messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
       WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ${sessionFilter}
       GROUP BY 1`;
  const conversationsPart =
    keys.conversation !== null && !channel && !status
      ? `SELECT ${keys.conversation} AS key, count(*)::int AS conversations,
           sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens, sum(c.cost_usd) AS cost_usd
         FROM conversations c
         WHERE c.tenant_id = $1 AND c.last_activity_at >= $2 AND c.last_activity_at < $3
         GROUP BY 1`
      : `SELECT NULL::text AS key, 0 AS conversations, 0::numeric AS input_tokens, 0::numeric AS output_tokens, 0::numeric AS cost_usd WHERE FALSE`;
  const result = await pool.query<UsageRow>(
    `WITH prices AS (SELECT $4::jsonb AS table),
     session_buckets AS (${sessionsPart}),
     message_usage AS (
       SELECT ${keys.message} AS key, m.role, coalesce(m.metadata->>'model', 'unknown') AS model,
         CASE WHEN jsonb_typeof(m.metadata->'usage'->'inputTokens') = 'number' THEN (m.metadata->'usage'->>'inputTokens')::numeric ELSE 0 END AS input_tokens,
         CASE WHEN jsonb_typeof(m.metadata->'usage'->'outputTokens') = 'number' THEN (m.metadata->'usage'->>'outputTokens')::numeric ELSE 0 END AS output_tokens,
         CASE WHEN jsonb_typeof(m.metadata->'latencyMs') = 'number' THEN (m.metadata->>'latencyMs')::float8 END AS latency_ms
       FROM messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
       WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ${sessionFilter}
     ),
     message_buckets AS (
       SELECT u.key, count(*)::int AS messages, sum(u.input_tokens) AS input_tokens, sum(u.output_tokens) AS output_tokens,
         sum((u.input_tokens * coalesce((p.table->u.model->>'input')::numeric, 0) + u.output_tokens * coalesce((p.table->u.model->>'output')::numeric, 0)) / 1000000) AS cost_usd,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) FILTER (WHERE u.role = 'ASSISTANT') AS latency_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY u.latency_ms) FILTER (WHERE u.role = 'ASSISTANT') AS latency_p95
       FROM message_usage u CROSS JOIN prices p
       GROUP BY u.key
     ),
     conversation_buckets AS (${conversationsPart})
     SELECT coalesce(sb.key, mb.key, cb.key) AS key,
       coalesce(sb.sessions, 0) AS sessions, coalesce(mb.messages, 0) AS messages, coalesce(cb.conversations, 0) AS conversations,
       (coalesce(mb.input_tokens, 0) + coalesce(cb.input_tokens, 0))::text AS input_tokens,
       (coalesce(mb.output_tokens, 0) + coalesce(cb.output_tokens, 0))::text AS output_tokens,
       round(coalesce(mb.cost_usd, 0) + coalesce(cb.cost_usd, 0), 8)::text AS cost_usd,
       sb.duration_p50, sb.duration_p95, mb.latency_p50, mb.latency_p95
     FROM session_buckets sb
     FULL JOIN message_buckets mb ON mb.key = sb.key
     FULL JOIN conversation_buckets cb ON cb.key = coalesce(sb.key, mb.key)
     ORDER BY 1`,
    params,
  );
  const timed = variables.groupBy === 'DAY' || variables.groupBy === 'WEEK';
  return {
    usage: {
      from,
      to,
      groupBy: variables.groupBy,
      buckets: result.rows.map((row) => ({
        key: row.key,
        start: timed ? new Date(`${row.key}T00:00:00.000Z`) : null,
        sessions: row.sessions ?? 0,
        messages: row.messages ?? 0,
        conversations: row.conversations ?? 0,
        inputTokens: Number(row.input_tokens ?? 0),
        outputTokens: Number(row.output_tokens ?? 0),
        costUsd: row.cost_usd ?? '0.00000000',
        sessionDurationP50: row.duration_p50,
        sessionDurationP95: row.duration_p95,
        stepLatencyP50: row.latency_p50,
        stepLatencyP95: row.latency_p95,
      })),
    },
  };
}
