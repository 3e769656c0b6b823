// The baseline's usage tiles: convoql's usage statement (src/analytics/usage.repository.ts) sent
// directly, so the difference measures only what sits around the SQL.
import type { Pool } from 'pg';
import { prepared } from './prepared';
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

function bucketKeys(groupBy: GroupBy): {
  session: string | null;
  message: string;
  conversation: string | null;
  type: string;
  output: string;
} {
  const time = (column: string) => `date_trunc('${groupBy === 'WEEK' ? 'week' : 'day'}', ${column} AT TIME ZONE 'UTC')`;
  switch (groupBy) {
    case 'DAY':
    case 'WEEK':
      return {
        session: time('s.started_at'),
        message: time('m.created_at'),
        conversation: time('c.last_activity_at'),
        type: 'timestamp',
        output: `to_char(parts.key, 'YYYY-MM-DD')`,
      };
    case 'CHANNEL':
      return { session: 's.channel', message: 's.channel', conversation: null, type: 'text', output: 'parts.key' };
    case 'STATUS':
      return { session: 's.status::text', message: 's.status::text', conversation: null, type: 'text', output: 'parts.key' };
    case 'MODEL':
      return { session: null, message: `coalesce(m.metadata->>'model', 'unknown')`, conversation: null, type: 'text', output: 'parts.key' };
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
  const filtered = Boolean(channel || status);
  const messageSessions =
    filtered || variables.groupBy === 'CHANNEL' || variables.groupBy === 'STATUS'
      ? 'JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id'
      : '';
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
    keys.conversation !== null && !filtered
      ? `UNION ALL
         SELECT ${keys.conversation}, NULL, NULL, count(*)::int, sum(c.input_tokens), sum(c.output_tokens), sum(c.cost_usd), NULL, NULL, NULL, NULL
         FROM conversations c
         WHERE c.tenant_id = $1 AND c.last_activity_at >= $2 AND c.last_activity_at < $3
         GROUP BY 1`
      : '';
  const result = await prepared<UsageRow>(
    pool,
    `WITH prices AS MATERIALIZED (
       SELECT p.key AS model, (p.value->>'input')::numeric AS input, (p.value->>'output')::numeric AS output
       FROM jsonb_each($4::jsonb) p
     ),
     session_buckets AS (${sessionsPart}),
     message_usage AS (
       SELECT ${keys.message} AS key, m.role, e.input_tokens, e.output_tokens, e.latency_ms,
         (e.input_tokens * coalesce(p.input, 0) + e.output_tokens * coalesce(p.output, 0)) / 1000000 AS cost_usd
       FROM messages m ${messageSessions}
       CROSS JOIN LATERAL (SELECT
         coalesce(m.metadata->>'model', 'unknown') AS model,
         CASE WHEN jsonb_typeof(m.metadata->'usage'->'inputTokens') = 'number' THEN (m.metadata->'usage'->'inputTokens')::numeric ELSE 0 END AS input_tokens,
         CASE WHEN jsonb_typeof(m.metadata->'usage'->'outputTokens') = 'number' THEN (m.metadata->'usage'->'outputTokens')::numeric ELSE 0 END AS output_tokens,
         CASE WHEN jsonb_typeof(m.metadata->'latencyMs') = 'number' THEN (m.metadata->'latencyMs')::float8 END AS latency_ms
       ) e
       LEFT JOIN prices p ON p.model = e.model
       WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ${sessionFilter}
       OFFSET 0
     ),
     parts AS (
       SELECT key::${keys.type} AS key, sessions, NULL::int AS messages, NULL::int AS conversations,
         NULL::numeric AS input_tokens, NULL::numeric AS output_tokens, NULL::numeric AS cost_usd,
         duration_p50, duration_p95, NULL::float8 AS latency_p50, NULL::float8 AS latency_p95
       FROM session_buckets
       UNION ALL
       SELECT u.key, NULL, count(*)::int, NULL, sum(u.input_tokens), sum(u.output_tokens), sum(u.cost_usd), NULL, NULL,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) FILTER (WHERE u.role = 'ASSISTANT'),
         percentile_cont(0.95) WITHIN GROUP (ORDER BY u.latency_ms) FILTER (WHERE u.role = 'ASSISTANT')
       FROM message_usage u
       GROUP BY u.key
       ${conversationsPart}
     )
     SELECT ${keys.output} AS key,
       coalesce(sum(parts.sessions), 0)::int AS sessions, coalesce(sum(parts.messages), 0)::int AS messages,
       coalesce(sum(parts.conversations), 0)::int AS conversations,
       coalesce(sum(parts.input_tokens), 0)::text AS input_tokens, coalesce(sum(parts.output_tokens), 0)::text AS output_tokens,
       round(coalesce(sum(parts.cost_usd), 0), 8)::text AS cost_usd,
       max(parts.duration_p50) AS duration_p50, max(parts.duration_p95) AS duration_p95,
       max(parts.latency_p50) AS latency_p50, max(parts.latency_p95) AS latency_p95
     FROM parts
     GROUP BY parts.key
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
