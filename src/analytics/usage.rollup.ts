import { Prisma } from '../db/client';
import { UsageGroupBy } from './usage.type';

/**
 * The usage statement over the rollups that triggers keep (migration `usage_rollups`, docs/decisions/0008): it
 * answers exactly what the scan in usage.repository.ts answers, reading hours of rollup rows instead of messages.
 *
 * - Messages, tokens and cost: `usage_message_rollups` for the whole UTC hours of the range, plus the messages of the
 *   partial hours at its ends, read as the triggers read them (`usage_message_fact`). Cost is priced per model from
 *   the token sums, so it follows the current MODEL_PRICES. The whole days of an unfiltered DAY or WEEK query read
 *   `usage_day_message_rollups` (per day and model) instead.
 * - Step latency percentiles: ranked over exact values with their counts (`usage_latency_rollups` per hour, or
 *   `usage_day_latencies` for the whole days of an unfiltered WEEK query), as PostgreSQL's `percentile_cont` ranks
 *   every message; the whole days of an unfiltered DAY query read one row per day of `usage_day_latency_ranks`, and
 *   its partial days either their part in the range or their day's row less the part outside it.
 * - Sessions and their duration percentiles: the sessions table itself (durations change with every message, so a
 *   session's row is its rollup), or, by MODEL, `usage_session_models` weighted by messages as the scan weighs them.
 *   The whole days of an unfiltered DAY query without open sessions read one row per day of `usage_day_sessions`
 *   (the ended sessions' durations, which no longer change).
 * - Conversations: the conversations table, as the scan reads it.
 *
 * Rollup rows carry their session's `channel` and `status` under the sessions' own column names and are read under the
 * alias `s`, so the sessions list's own conditions (sessionFilterConditions) filter them.
 */
export interface RollupStatementInput {
  tenantId: string;
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
  /** The sessions list's conditions of the query's filter, over the alias `s`; only those rollup rows carry. */
  conditions: Prisma.Sql[];
  /** MODEL_PRICES as JSON: {"<model>": {"input": n, "output": n}} per million tokens. */
  prices: string;
}

/** The percentiles usage reports, as the array the rank functions take: p50 and p95, in this order. */
const PERCENTILES = Prisma.sql`'{0.5,0.95}'::float8[]`;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The whole UTC hours (or days) inside [from, to): [first, end), empty when first >= end. */
function whole(from: Date, to: Date, unitMs: number): { first: Date; end: Date } {
  return { first: new Date(Math.ceil(from.getTime() / unitMs) * unitMs), end: new Date(Math.floor(to.getTime() / unitMs) * unitMs) };
}

/** A UTC instant as the rollups' `timestamp` hours name it, whatever the connection's TimeZone. */
function wallClock(instant: Date): Prisma.Sql {
  return Prisma.sql`(${instant}::timestamptz AT TIME ZONE 'UTC')`;
}

/** `percentile_cont(p)` over rows (key, value, weight), each value counted weight times; columns key, <name>50, <name>95. */
function weightedPercentiles(rows: Prisma.Sql, name: string): Prisma.Sql {
  // PostgreSQL's percentile_cont: with n values in order, r = p * (n - 1) (in double precision), the values at ranks
  // floor(r) and ceil(r) (0-based), and lo + (r - floor(r)) * (hi - lo). The value at rank k is the smallest whose
  // running count exceeds k.
  const at = (p: string, round: string) => Prisma.raw(`min(h.value) FILTER (WHERE h.upto > ${round}(${p}::float8 * (h.total - 1)))`);
  const percentile = (p: string) =>
    Prisma.sql`${at(p, 'floor')} + ((${Prisma.raw(p)}::float8 * (max(h.total) - 1) - floor(${Prisma.raw(p)}::float8 * (max(h.total) - 1))) * (${at(p, 'ceil')} - ${at(p, 'floor')}))`;
  return Prisma.sql`
    SELECT h.key, ${percentile('0.5')} AS ${Prisma.raw(`${name}_p50`)}, ${percentile('0.95')} AS ${Prisma.raw(`${name}_p95`)}
    FROM (
      SELECT w.key, w.value,
        sum(w.weight) OVER (PARTITION BY w.key ORDER BY w.value ROWS UNBOUNDED PRECEDING) AS upto,
        sum(w.weight) OVER (PARTITION BY w.key) AS total
      FROM (${rows}) w
    ) h
    GROUP BY h.key`;
}

/**
 * Step latency percentiles of the whole UTC days in [first, end), one row per day of `usage_day_latency_ranks`
 * (migration usage_day_latency_ranks, docs/decisions/0014): columns key (the day as a timestamp), latency_p50,
 * latency_p95, by `usage_rank_percentiles` (all percentiles in one call), which has the arithmetic of
 * {@link weightedPercentiles} and so the bits of `percentile_cont`: the value at rank k is latencies[i] for the first i
 * whose running count upto[i] exceeds k, i = width_bucket(k, upto) + 1 (a binary search over the running counts).
 */
function dayRankPercentiles(tenantId: string, first: Date, end: Date): Prisma.Sql {
  return Prisma.sql`
    SELECT a.day::timestamp AS key, q.p[1] AS latency_p50, q.p[2] AS latency_p95
    FROM usage_day_latency_ranks a
    CROSS JOIN LATERAL (SELECT usage_rank_percentiles(a.latencies, a.upto, NULL, NULL, ${PERCENTILES}) AS p OFFSET 0) q
    WHERE a.tenant_id = ${tenantId} AND a.day >= ${wallClock(first)}::date AND a.day < ${wallClock(end)}::date`;
}

/**
 * The facts (`usage_message_fact`, as the triggers read them) of the tenant's messages created in the intervals [from,
 * to); an empty relation of the same columns when every interval is empty (a range on whole hours), so that nothing
 * is planned for them.
 */
function messageFacts(tenantId: string, intervals: [Date, Date][]): Prisma.Sql {
  const created = intervals
    .filter(([from, to]) => from < to)
    .map(([from, to]) => Prisma.sql`(m.created_at >= ${from} AND m.created_at < ${to})`);
  if (created.length === 0) return Prisma.sql`SELECT f.* FROM unnest(ARRAY[]::usage_message_fact[]) f`;
  return Prisma.sql`
    SELECT f.* FROM messages m
    JOIN sessions ss ON ss.id = m.session_id AND ss.tenant_id = m.tenant_id
    CROSS JOIN LATERAL (SELECT (usage_message_fact(m, ss.channel, ss.status, 1)).*) f
    WHERE m.tenant_id = ${tenantId} AND (${Prisma.join(created, ' OR ')})`;
}

/** Part of a UTC day: the whole hours [hoursFrom, hoursTo) from the hour table, the instants [from, to) from messages. */
interface DayPiece {
  day: Date;
  hoursFrom: Date;
  hoursTo: Date;
  from: Date;
  to: Date;
}

/** Rows (key: the day, value: a latency, weight) of the pieces: hour-table rows and the messages' own latencies. */
function pieceLatencies(tenantId: string, pieces: DayPiece[]): Prisma.Sql {
  const or = (parts: Prisma.Sql[]) => (parts.length > 0 ? Prisma.sql`(${Prisma.join(parts, ' OR ')})` : Prisma.sql`FALSE`);
  const hours = or(
    pieces
      .filter((piece) => piece.hoursFrom < piece.hoursTo)
      .map((piece) => Prisma.sql`(s.hour >= ${wallClock(piece.hoursFrom)} AND s.hour < ${wallClock(piece.hoursTo)})`),
  );
  const facts = messageFacts(
    tenantId,
    pieces.map((piece) => [piece.from, piece.to]),
  );
  return Prisma.sql`
    SELECT date_trunc('day', s.hour) AS key, s.latency_ms AS value, s.messages AS weight
    FROM usage_hour_latencies s
    WHERE s.tenant_id = ${tenantId} AND ${hours}
    UNION ALL
    SELECT date_trunc('day', f.hour), f.latency_ms, 1
    FROM (${facts}) f
    WHERE f.latency_ms IS NOT NULL`;
}

/**
 * Step latency percentiles of the partial days at the ends of an unfiltered DAY range (columns key, latency_p50,
 * latency_p95). A partial day is ranked over the part in the range (hour rows and the messages of partial hours) or,
 * when the part outside the range spans no more hours (the rest of today, for a range that ends now, is empty), over the
 * day's rank arrays minus that part: `usage_rank_percentiles` finds the value at a rank by binary search over the
 * day's distinct latencies, counting those at or below it in the day less those in the part left out. Both give
 * `percentile_cont`'s bits.
 */
function partialDayLatencies(tenantId: string, from: Date, to: Date, days: { first: Date; end: Date }): Prisma.Sql[] {
  const hourFloor = (instant: Date) => new Date(Math.floor(instant.getTime() / HOUR_MS) * HOUR_MS);
  const hourCeil = (instant: Date) => new Date(Math.ceil(instant.getTime() / HOUR_MS) * HOUR_MS);
  const plus = (instant: Date, ms: number) => new Date(instant.getTime() + ms);
  const sides: { inside: DayPiece; outside: DayPiece }[] = [];
  if (from < days.first) {
    const day = plus(days.first, -DAY_MS);
    sides.push({
      inside: { day, hoursFrom: hourCeil(from), hoursTo: days.first, from, to: hourCeil(from) },
      outside: { day, hoursFrom: day, hoursTo: hourFloor(from), from: hourFloor(from), to: from },
    });
  }
  if (days.end < to) {
    const day = days.end;
    sides.push({
      inside: { day, hoursFrom: day, hoursTo: hourFloor(to), from: hourFloor(to), to },
      outside: { day, hoursFrom: hourCeil(to), hoursTo: plus(day, DAY_MS), from: to, to: hourCeil(to) },
    });
  }
  const span = (piece: DayPiece) => piece.hoursTo.getTime() - piece.hoursFrom.getTime();
  const inside = sides.filter((side) => span(side.outside) > span(side.inside)).map((side) => side.inside);
  const outside = sides.filter((side) => span(side.outside) <= span(side.inside)).map((side) => side.outside);
  const parts: Prisma.Sql[] = [];
  if (inside.length > 0) parts.push(weightedPercentiles(pieceLatencies(tenantId, inside), 'latency'));
  if (outside.length > 0) {
    // A day with nothing left in the range has no bucket of its own here (NULL percentiles are dropped).
    parts.push(Prisma.sql`
      SELECT x.key, x.p[1] AS latency_p50, x.p[2] AS latency_p95 FROM (
        SELECT a.day::timestamp AS key, usage_rank_percentiles(a.latencies, a.upto, c.latencies, c.upto, ${PERCENTILES}) AS p
        FROM usage_day_latency_ranks a
        LEFT JOIN (
          SELECT h.key, array_agg(h.value ORDER BY h.value) AS latencies, array_agg(h.upto ORDER BY h.value) AS upto
          FROM (
            SELECT g.key, g.value, sum(g.weight) OVER (PARTITION BY g.key ORDER BY g.value ROWS UNBOUNDED PRECEDING)::float8 AS upto
            FROM (SELECT w.key, w.value, sum(w.weight) AS weight FROM (${pieceLatencies(tenantId, outside)}) w GROUP BY 1, 2) g
          ) h
          GROUP BY 1
        ) c ON c.key = a.day::timestamp
        WHERE a.tenant_id = ${tenantId} AND a.day IN (${Prisma.join(outside.map((piece) => Prisma.sql`${wallClock(piece.day)}::date`))})
        OFFSET 0
      ) x
      WHERE x.p IS NOT NULL`);
  }
  return parts;
}

/**
 * Sessions and their duration percentiles of an unfiltered DAY query (columns key, sessions, duration_p50,
 * duration_p95): a whole day without open sessions from its `usage_day_sessions` row alone (migration
 * usage_day_rollups, docs/decisions/0014), by `usage_sorted_percentiles`, which has `percentile_cont`'s arithmetic over
 * the ascending durations of the day's ended sessions; a whole day with open sessions (whose duration still grows with
 * each message) and the partial days at the ends from the sessions table, by `percentile_cont`.
 */
function daySessions(
  tenantId: string,
  from: Date,
  to: Date,
  days: { first: Date; end: Date },
  sessionKey: Prisma.Sql,
  duration: Prisma.Sql,
): Prisma.Sql {
  const wholeDays = Prisma.sql`a.tenant_id = ${tenantId} AND a.day >= ${wallClock(days.first)}::date AND a.day < ${wallClock(days.end)}::date`;
  const figures = Prisma.sql`count(*)::int AS sessions, percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95`;
  // The open days are aggregated one by one (LATERAL), so that each reads one day's range of the index and no parallel
  // plan is started for a few hundred rows.
  return Prisma.sql`
    SELECT a.day::timestamp AS key, cardinality(a.durations) AS sessions, q.p[1] AS duration_p50, q.p[2] AS duration_p95
    FROM usage_day_sessions a
    CROSS JOIN LATERAL (SELECT usage_sorted_percentiles(a.durations, ${PERCENTILES}) AS p OFFSET 0) q
    WHERE ${wholeDays} AND a.open = 0
    UNION ALL
    SELECT a.day::timestamp, o.sessions, o.duration_p50, o.duration_p95
    FROM usage_day_sessions a
    CROSS JOIN LATERAL (
      SELECT ${figures} FROM sessions s
      WHERE s.tenant_id = ${tenantId} AND s.started_at >= (a.day::timestamp AT TIME ZONE 'UTC')
        AND s.started_at < ((a.day + 1)::timestamp AT TIME ZONE 'UTC')
    ) o
    WHERE ${wholeDays} AND a.open > 0
    UNION ALL
    SELECT ${sessionKey}::timestamp, ${figures}
    FROM sessions s
    WHERE s.tenant_id = ${tenantId}
      AND ((s.started_at >= ${from} AND s.started_at < ${days.first}) OR (s.started_at >= ${days.end} AND s.started_at < ${to}))
    GROUP BY 1`;
}

/** The usage statement over the rollups; its rows are the scan's (key, sessions, messages, …, latency_p95). */
export function usageRollupStatement(input: RollupStatementInput): Prisma.Sql {
  const { tenantId, from, to, groupBy, conditions } = input;
  const filter = conditions.length > 0 ? Prisma.join(conditions, ' AND ') : Prisma.sql`TRUE`;
  const timed = groupBy === UsageGroupBy.DAY || groupBy === UsageGroupBy.WEEK;
  const unit = groupBy === UsageGroupBy.WEEK ? 'week' : 'day';
  // The bucket of a rollup row (alias s: hour, channel, status, model) and of a session row.
  const rowKey = (() => {
    switch (groupBy) {
      case UsageGroupBy.DAY:
      case UsageGroupBy.WEEK:
        return Prisma.sql`date_trunc(${unit}, s.hour)`;
      case UsageGroupBy.CHANNEL:
        return Prisma.sql`s.channel`;
      case UsageGroupBy.STATUS:
        return Prisma.sql`s.status::text`;
      case UsageGroupBy.MODEL:
        return Prisma.sql`s.model`;
    }
  })();
  const keyType = timed ? Prisma.sql`timestamp` : Prisma.sql`text`;

  const hours = whole(from, to, HOUR_MS);
  const hasHours = hours.first < hours.end;
  // The partial hours at the ends (or the whole range when it holds no whole hour), read from the messages.
  const edgeFacts = messageFacts(
    tenantId,
    hasHours
      ? [
          [from, hours.first],
          [hours.end, to],
        ]
      : [[from, to]],
  );
  const hourRange = (column: Prisma.Sql) =>
    hasHours ? Prisma.sql`${column} >= ${wallClock(hours.first)} AND ${column} < ${wallClock(hours.end)}` : Prisma.sql`FALSE`;

  // Unfiltered days and weeks read their whole days from the day rollups (no channel or status, a few rows per day),
  // and only the hours of partial days from the hour rollups.
  const days = whole(from, to, DAY_MS);
  const dayTable = timed && conditions.length === 0 && days.first < days.end;
  const partialDayHours = Prisma.sql`((s.hour >= ${wallClock(hours.first)} AND s.hour < ${wallClock(days.first)}) OR (s.hour >= ${wallClock(days.end)} AND s.hour < ${wallClock(hours.end)}))`;

  // Messages, tokens and cost per bucket.
  const messageDays = dayTable
    ? Prisma.sql`
    SELECT s.day::timestamp AS hour, NULL::text AS channel, NULL::session_status AS status, s.model, s.messages, s.input_tokens, s.output_tokens
    FROM usage_day_message_rollups s
    WHERE s.tenant_id = ${tenantId} AND s.day >= ${wallClock(days.first)}::date AND s.day < ${wallClock(days.end)}::date
    UNION ALL`
    : Prisma.empty;
  const messageRows = Prisma.sql`${messageDays}
    SELECT s.hour, s.channel, s.status, s.model, s.messages, s.input_tokens, s.output_tokens
    FROM usage_message_rollups s
    WHERE s.tenant_id = ${tenantId} AND ${dayTable ? partialDayHours : hourRange(Prisma.sql`s.hour`)} AND ${filter}
    UNION ALL
    SELECT s.hour, s.channel, s.status, s.model, 1, s.input_tokens, s.output_tokens
    FROM (${edgeFacts}) s
    WHERE ${filter}`;
  const messagesPart = Prisma.sql`
    SELECT ${rowKey}::${keyType} AS key, sum(s.messages)::int AS messages, sum(s.input_tokens) AS input_tokens,
      sum(s.output_tokens) AS output_tokens,
      sum((s.input_tokens * coalesce(p.input, 0) + s.output_tokens * coalesce(p.output, 0)) / 1000000) AS cost_usd
    FROM (${messageRows}) s
    LEFT JOIN prices p ON p.model = s.model
    GROUP BY 1`;

  // Step latencies: exact values with their counts. Unfiltered days and weeks read whole days from the day table and
  // only the hours of partial days from the hour table.
  const latencyHours = dayTable ? partialDayHours : hourRange(Prisma.sql`s.hour`);
  // Unfiltered days and weeks need no channel, status or model: the hour table without them has far fewer rows.
  const latencyTable = timed && conditions.length === 0 ? Prisma.sql`usage_hour_latencies` : Prisma.sql`usage_latency_rollups`;
  const hourLatencies = Prisma.sql`
    SELECT ${rowKey}::${keyType} AS key, s.latency_ms AS value, s.messages AS weight
    FROM ${latencyTable} s
    WHERE s.tenant_id = ${tenantId} AND ${latencyHours} AND ${filter}
    UNION ALL
    SELECT ${rowKey}::${keyType}, s.latency_ms, 1
    FROM (${edgeFacts}) s
    WHERE s.latency_ms IS NOT NULL AND ${filter}`;
  // By DAY the key is the day column itself, so that the index (tenant_id, day, latency_ms) gives the windows their order.
  const dayLatencies = Prisma.sql`
    SELECT ${groupBy === UsageGroupBy.DAY ? Prisma.sql`d.day` : Prisma.sql`date_trunc('week', d.day::timestamp)`} AS key,
      d.latency_ms AS value, d.messages AS weight
    FROM usage_day_latencies d
    WHERE d.tenant_id = ${tenantId} AND d.day >= ${wallClock(days.first)}::date AND d.day < ${wallClock(days.end)}::date`;
  // By DAY a bucket is either a whole day (its rank arrays alone: one row per day) or a partial one (the hour table and
  // the edges); a week mixes both, merging the days' rows.
  const latencyParts = !dayTable
    ? [weightedPercentiles(hourLatencies, 'latency')]
    : groupBy === UsageGroupBy.DAY
      ? [dayRankPercentiles(tenantId, days.first, days.end), ...partialDayLatencies(tenantId, from, to, days)]
      : [weightedPercentiles(Prisma.sql`${hourLatencies} UNION ALL ${dayLatencies}`, 'latency')];

  // Sessions: started in the range (the sessions table), or by MODEL, served a message of the model in the range.
  const duration = Prisma.sql`extract(epoch FROM coalesce(s.ended_at, s.last_activity_at) - s.started_at)`;
  const sessionKey = (() => {
    switch (groupBy) {
      case UsageGroupBy.DAY:
      case UsageGroupBy.WEEK:
        return Prisma.sql`date_trunc(${unit}, s.started_at AT TIME ZONE 'UTC')`;
      case UsageGroupBy.CHANNEL:
        return Prisma.sql`s.channel`;
      case UsageGroupBy.STATUS:
        return Prisma.sql`s.status::text`;
      case UsageGroupBy.MODEL:
        return null;
    }
  })();
  const sessionsPart = sessionKey
    ? dayTable && groupBy === UsageGroupBy.DAY
      ? daySessions(tenantId, from, to, days, sessionKey, duration)
      : Prisma.sql`
      SELECT ${sessionKey}::${keyType} AS key, count(*)::int AS sessions,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY ${duration}) AS duration_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY ${duration}) AS duration_p95
      FROM sessions s
      WHERE s.tenant_id = ${tenantId} AND s.started_at >= ${from} AND s.started_at < ${to} AND ${filter}
      GROUP BY 1`
    : Prisma.sql`
      SELECT c.key, c.sessions, d.duration_p50, d.duration_p95
      FROM (SELECT w.key, count(*)::int AS sessions FROM session_weights w GROUP BY 1) c
      JOIN (${weightedPercentiles(Prisma.sql`SELECT w.key, w.value, w.weight FROM session_weights w`, 'duration')}) d ON d.key = c.key`;
  const sessionWeights =
    groupBy === UsageGroupBy.MODEL
      ? Prisma.sql`,
    session_weights AS (
      SELECT u.model AS key, ${duration}::float8 AS value, u.weight
      FROM (
        SELECT r.model, r.session_id, sum(r.messages) AS weight FROM (
          SELECT sm.model, sm.session_id, sm.messages FROM usage_session_models sm
          WHERE sm.tenant_id = ${tenantId} AND ${hourRange(Prisma.sql`sm.hour`)}
          UNION ALL
          SELECT f.model, f.session_id, 1 FROM (${edgeFacts}) f
        ) r
        GROUP BY 1, 2
      ) u
      JOIN sessions s ON s.id = u.session_id AND s.tenant_id = ${tenantId}
      WHERE ${filter}
    )`
      : Prisma.empty;
  const conversationsPart =
    timed && conditions.length === 0
      ? Prisma.sql`
      UNION ALL
      SELECT date_trunc(${unit}, c.last_activity_at AT TIME ZONE 'UTC'), NULL, NULL, count(*)::int, sum(c.input_tokens),
        sum(c.output_tokens), sum(c.cost_usd), NULL, NULL, NULL, NULL
      FROM conversations c
      WHERE c.tenant_id = ${tenantId} AND c.last_activity_at >= ${from} AND c.last_activity_at < ${to}
      GROUP BY 1`
      : Prisma.empty;
  const output = timed ? Prisma.sql`to_char(parts.key, 'YYYY-MM-DD')` : Prisma.sql`parts.key`;
  return Prisma.sql`
    WITH prices AS MATERIALIZED (
      SELECT p.key AS model, (p.value->>'input')::numeric AS input, (p.value->>'output')::numeric AS output
      FROM jsonb_each(${input.prices}::jsonb) p
    )${sessionWeights},
    parts AS (
      SELECT key::${keyType} AS key, sessions, NULL::int AS messages, NULL::int AS conversations,
        NULL::numeric AS input_tokens, NULL::numeric AS output_tokens, NULL::numeric AS cost_usd,
        duration_p50, duration_p95, NULL::float8 AS latency_p50, NULL::float8 AS latency_p95
      FROM (${sessionsPart}) sessions_part
      UNION ALL
      SELECT key, NULL, messages, NULL, input_tokens, output_tokens, cost_usd, NULL, NULL, NULL, NULL
      FROM (${messagesPart}) messages_part
      UNION ALL
      ${Prisma.join(
        latencyParts.map(
          (part) =>
            Prisma.sql`SELECT key::${keyType}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, latency_p50, latency_p95 FROM (${part}) latency_part`,
        ),
        ' UNION ALL ',
      )}
      ${conversationsPart}
    )
    ${figuresOfParts(output)}`;
}

/**
 * The closing SELECT of a usage statement, the scan's and the rollups' alike: each key's figures summed over the rows
 * of the CTE `parts` (each part fills its own columns, NULL elsewhere), the key shown as `output`.
 */
export function figuresOfParts(output: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`SELECT ${output} AS key,
      coalesce(sum(parts.sessions), 0)::int AS sessions, coalesce(sum(parts.messages), 0)::int AS messages,
      coalesce(sum(parts.conversations), 0)::int AS conversations,
      coalesce(sum(parts.input_tokens), 0)::text AS input_tokens, coalesce(sum(parts.output_tokens), 0)::text AS output_tokens,
      round(coalesce(sum(parts.cost_usd), 0), 8)::text AS cost_usd,
      max(parts.duration_p50) AS duration_p50, max(parts.duration_p95) AS duration_p95,
      max(parts.latency_p50) AS latency_p50, max(parts.latency_p95) AS latency_p95
    FROM parts
    GROUP BY parts.key
    ORDER BY 1`;
}
