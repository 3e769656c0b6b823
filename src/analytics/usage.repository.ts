import { Prisma } from '../db/client';
import type { TenantContext } from '../core/context';
import { sessionFilterConditions } from '../sessions/session.list';
import type { SessionStatus } from '../sessions/session.type';
import { figuresOfParts, usageRollupStatement } from './usage.rollup';
import { UsageGroupBy, type UsageBucket } from './usage.type';

/** The resolved range and filters of a usage query. */
export interface UsageQuery {
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
  channel: string[] | null;
  status: SessionStatus[] | null;
  /** The sessions list's search filters (SessionFilter's fields of the same names); null: no restriction. */
  metadata?: Record<string, unknown> | null;
  text?: string | null;
  hasErrors?: boolean | null;
  toolName?: string[] | null;
  model?: string[] | null;
}

/** Where usage is computed from: the rollups the triggers keep, or a scan of the sessions and messages. */
export type UsageSource = 'rollups' | 'scan';

/**
 * The filters the rollups can answer: their rows carry the session's channel and status, nothing else of it. This is
 * the one rule deciding between rollups and scan (docs/decisions/0008-usage-rollups.md): a query whose filter
 * restricts sessions by anything more (metadata, text, hasErrors, toolName, model, and any filter added later) scans.
 */
const ROLLUP_FILTERS = ['channel', 'status'] as const satisfies readonly (keyof UsageQuery)[];

/** The source that answers `query`: the rollups unless its filter restricts sessions by more than they carry. */
export function usageSource(context: TenantContext, query: UsageQuery): UsageSource {
  const { metadata, text, hasErrors, toolName, model } = query;
  const beyond = sessionFilterConditions(context, { metadata, text, hasErrors, toolName, model });
  return beyond.length === 0 ? 'rollups' : 'scan';
}

/** One bucket's figures as the repository computes them (the resolver adds `start`). */
export type UsageFigures = Omit<UsageBucket, 'start'>;

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

/**
 * SQL that buckets a session (`s`), a message (`m`) or a conversation (`c`) for each grouping (null: not
 * counted), and the key as returned. Days and weeks are grouped as timestamps, which sort faster than
 * their text, and formatted once per bucket.
 */
function bucketKeys(groupBy: UsageGroupBy) {
  const time = (column: Prisma.Sql) =>
    Prisma.sql`date_trunc(${groupBy === UsageGroupBy.WEEK ? 'week' : 'day'}, ${column} AT TIME ZONE 'UTC')`;
  const text = Prisma.sql`parts.key`;
  switch (groupBy) {
    case UsageGroupBy.DAY:
    case UsageGroupBy.WEEK:
      return {
        session: time(Prisma.sql`s.started_at`),
        message: time(Prisma.sql`m.created_at`),
        conversation: time(Prisma.sql`c.last_activity_at`),
        type: Prisma.sql`timestamp`,
        output: Prisma.sql`to_char(parts.key, 'YYYY-MM-DD')`,
      };
    case UsageGroupBy.CHANNEL:
      return { session: Prisma.sql`s.channel`, message: Prisma.sql`s.channel`, conversation: null, type: Prisma.sql`text`, output: text };
    case UsageGroupBy.STATUS:
      return {
        session: Prisma.sql`s.status::text`,
        message: Prisma.sql`s.status::text`,
        conversation: null,
        type: Prisma.sql`text`,
        output: text,
      };
    case UsageGroupBy.MODEL:
      return {
        session: null,
        message: Prisma.sql`coalesce(m.metadata->>'model', 'unknown')`,
        conversation: null,
        type: Prisma.sql`text`,
        output: text,
      };
  }
}

/**
 * Usage buckets in one statement, from the source `usageSource` picks (or `source`, which the tests and the benchmark
 * pass to compare both): the same figures either way.
 */
export async function usageBuckets(
  context: TenantContext,
  query: UsageQuery,
  source = usageSource(context, query),
): Promise<UsageFigures[]> {
  if (source === 'scan') return usageScan(context, query);
  const rollupQuery = Object.fromEntries(ROLLUP_FILTERS.map((name) => [name, query[name]]));
  const rows = await context.db.prisma.$queryRaw<UsageRow[]>(
    usageRollupStatement({
      tenantId: context.viewer.tenantId,
      from: query.from,
      to: query.to,
      groupBy: query.groupBy,
      conditions: sessionFilterConditions(context, rollupQuery),
      prices: JSON.stringify(context.config.conversations.modelPrices),
    }),
  );
  return rows.map(toFigures);
}

/**
 * The scan: sessions, messages and conversations are aggregated separately by the bucket key and merged per key
 * (each part has at most one row per key); percentiles are computed by PostgreSQL. Messages are joined to their
 * sessions only when a filter or the grouping needs session columns (every message belongs to a session of its tenant).
 */
async function usageScan(context: TenantContext, query: UsageQuery): Promise<UsageFigures[]> {
  const tenantId = context.viewer.tenantId;
  const keys = bucketKeys(query.groupBy);
  // The sessions list's own filter (see session.list.ts); messages are joined to sessions whenever it restricts them,
  // and conversations, which have no session, count only when it restricts nothing.
  const { channel, status, metadata, text, hasErrors, toolName, model } = query;
  const conditions = sessionFilterConditions(context, { channel, status, metadata, text, hasErrors, toolName, model });
  const filtered = conditions.length > 0;
  const sessionFilter = filtered ? Prisma.join(conditions, ' AND ') : Prisma.sql`TRUE`;
  const messageSessions =
    filtered || query.groupBy === UsageGroupBy.CHANNEL || query.groupBy === UsageGroupBy.STATUS
      ? Prisma.sql`JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id`
      : Prisma.empty;
  const prices = JSON.stringify(context.config.conversations.modelPrices);
  const duration = Prisma.sql`extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)`;
  const sessionsPart = keys.session
    ? Prisma.sql`
      SELECT ${keys.session} AS key, count(*)::int AS sessions,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95
      FROM sessions s
      WHERE s.tenant_id = ${tenantId} AND s.started_at >= ${query.from} AND s.started_at < ${query.to} AND ${sessionFilter}
      GROUP BY 1`
    : Prisma.sql`
      SELECT ${keys.message} AS key, count(DISTINCT m.session_id)::int AS sessions,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95
      FROM messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
      WHERE m.tenant_id = ${tenantId} AND m.created_at >= ${query.from} AND m.created_at < ${query.to} AND ${sessionFilter}
      GROUP BY 1`;
  // Conversations have none of the sessions' filters: counted only without them.
  const conversationsPart =
    keys.conversation !== null && !filtered
      ? Prisma.sql`
      UNION ALL
      SELECT ${keys.conversation}, NULL, NULL, count(*)::int, sum(c.input_tokens), sum(c.output_tokens), sum(c.cost_usd), NULL, NULL, NULL, NULL
      FROM conversations c
      WHERE c.tenant_id = ${tenantId} AND c.last_activity_at >= ${query.from} AND c.last_activity_at < ${query.to}
      GROUP BY 1`
      : Prisma.empty;
  const rows = await context.db.prisma.$queryRaw<UsageRow[]>`
    WITH prices AS MATERIALIZED (
      SELECT p.key AS model, (p.value->>'input')::numeric AS input, (p.value->>'output')::numeric AS output
      FROM jsonb_each(${prices}::jsonb) p
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
      WHERE m.tenant_id = ${tenantId} AND m.created_at >= ${query.from} AND m.created_at < ${query.to} AND ${sessionFilter}
      -- OFFSET 0 keeps this a subquery, so the JSON is read once per message while scanning, and the
      -- rows sorted for the percentiles carry only these columns, not the whole metadata.
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
    ${figuresOfParts(keys.output)}`;
  return rows.map(toFigures);
}

function toFigures(row: UsageRow): UsageFigures {
  return {
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
  };
}
