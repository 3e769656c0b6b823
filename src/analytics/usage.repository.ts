import { Prisma } from '../db/client';
import type { TenantContext } from '../server/context';
import { UsageGroupBy, type UsageBucket } from './usage.type';

/** The resolved range and filters of a usage query. */
export interface UsageQuery {
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
  channel: string[] | null;
  status: string[] | null;
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

/** SQL that buckets a timestamp, a session (`s`) or a message (`m`) for each grouping; null: not counted. */
function bucketKeys(groupBy: UsageGroupBy) {
  const time = (column: Prisma.Sql) =>
    Prisma.sql`to_char(date_trunc(${groupBy === UsageGroupBy.WEEK ? 'week' : 'day'}, ${column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`;
  switch (groupBy) {
    case UsageGroupBy.DAY:
    case UsageGroupBy.WEEK:
      return {
        session: time(Prisma.sql`s.started_at`),
        message: time(Prisma.sql`m.created_at`),
        conversation: time(Prisma.sql`c.last_activity_at`),
      };
    case UsageGroupBy.CHANNEL:
      return { session: Prisma.sql`s.channel`, message: Prisma.sql`s.channel`, conversation: null };
    case UsageGroupBy.STATUS:
      return { session: Prisma.sql`s.status::text`, message: Prisma.sql`s.status::text`, conversation: null };
    case UsageGroupBy.MODEL:
      return { session: null, message: Prisma.sql`coalesce(m.metadata->>'model', 'unknown')`, conversation: null };
  }
}

/**
 * Usage buckets in one statement: sessions, messages and conversations are aggregated separately by
 * the bucket key and joined on it; percentiles are computed by PostgreSQL.
 */
export async function usageBuckets(context: TenantContext, query: UsageQuery): Promise<Omit<UsageBucket, 'start'>[]> {
  const tenantId = context.viewer.tenantId;
  const keys = bucketKeys(query.groupBy);
  const sessionFilter = Prisma.join(
    [
      Prisma.sql`TRUE`,
      ...(query.channel?.length ? [Prisma.sql`s.channel = ANY(${query.channel})`] : []),
      ...(query.status?.length ? [Prisma.sql`s.status::text = ANY(${query.status})`] : []),
    ],
    ' AND ',
  );
  const prices = JSON.stringify(context.config.conversations.modelPrices);
  const countConversations = keys.conversation !== null && !query.channel?.length && !query.status?.length;
  const sessionsPart = keys.session
    ? Prisma.sql`
      SELECT ${keys.session} AS key, count(*)::int AS sessions,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)) AS duration_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)) AS duration_p95
      FROM sessions s
      WHERE s.tenant_id = ${tenantId} AND s.started_at >= ${query.from} AND s.started_at < ${query.to} AND ${sessionFilter}
      GROUP BY 1`
    : Prisma.sql`
      SELECT ${keys.message} AS key, count(DISTINCT m.session_id)::int AS sessions,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)) AS duration_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)) AS duration_p95
      FROM messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
      WHERE m.tenant_id = ${tenantId} AND m.created_at >= ${query.from} AND m.created_at < ${query.to} AND ${sessionFilter}
      GROUP BY 1`;
  const conversationsPart = countConversations
    ? Prisma.sql`
      SELECT ${keys.conversation} AS key, count(*)::int AS conversations,
        sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens, sum(c.cost_usd) AS cost_usd
      FROM conversations c
      WHERE c.tenant_id = ${tenantId} AND c.last_activity_at >= ${query.from} AND c.last_activity_at < ${query.to}
      GROUP BY 1`
    : Prisma.sql`SELECT NULL::text AS key, 0 AS conversations, 0::numeric AS input_tokens, 0::numeric AS output_tokens, 0::numeric AS cost_usd WHERE FALSE`;
  const rows = await context.db.prisma.$queryRaw<UsageRow[]>`
    WITH prices AS (SELECT ${prices}::jsonb AS table),
    session_buckets AS (${sessionsPart}),
    message_usage AS (
      SELECT ${keys.message} AS key,
        m.role,
        coalesce(m.metadata->>'model', 'unknown') AS model,
        CASE WHEN jsonb_typeof(m.metadata->'usage'->'inputTokens') = 'number' THEN (m.metadata->'usage'->>'inputTokens')::numeric ELSE 0 END AS input_tokens,
        CASE WHEN jsonb_typeof(m.metadata->'usage'->'outputTokens') = 'number' THEN (m.metadata->'usage'->>'outputTokens')::numeric ELSE 0 END AS output_tokens,
        CASE WHEN jsonb_typeof(m.metadata->'latencyMs') = 'number' THEN (m.metadata->>'latencyMs')::float8 END AS latency_ms
      FROM messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
      WHERE m.tenant_id = ${tenantId} AND m.created_at >= ${query.from} AND m.created_at < ${query.to} AND ${sessionFilter}
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
    ORDER BY 1`;
  return rows.map((row) => ({
    key: row.key,
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
  }));
}
