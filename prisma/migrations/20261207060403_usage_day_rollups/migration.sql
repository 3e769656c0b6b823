-- Per-day rollups for an unfiltered usage by DAY (docs/decisions/0014-usage-percentiles.md, "Day rollups"):
-- usage_day_message_rollups: messages and tokens per tenant, UTC day and model, whatever the channel and status (a few
--   rows per day instead of one per hour, channel, status and model of usage_message_rollups); kept by
--   usage_apply_message_facts like the other rollups, emptied by TRUNCATE of messages.
-- usage_day_sessions: per tenant and UTC day of started_at, the durations of the ENDED sessions (ended_at set: their
--   duration, ended_at - started_at, no longer changes with appends) in ascending order, one element per session, and
--   how many sessions of the day are open (ended_at NULL). A day without open sessions is answered from its row alone
--   (count = cardinality, percentiles by rank); a day with open ones is read from the sessions table as before.
--   Statement triggers on sessions turn the sessions inserted, deleted, or changed in started_at or ended_at into
--   signed facts (an append, which only advances last_activity_at, gives none) and apply them to the days' arrays.
-- usage_apply_message_facts also locks the day rank rows it rebuilds before reading their days (a race of migration
--   usage_day_latency_ranks: two writers of one day that shared no rollup row could each rebuild it without the
--   other's latencies).
-- usage_rank_percentiles: a day's step latency percentiles from its rank arrays (usage_day_latency_ranks), all of them
--   in one call, or those of a partial day as its whole day less the part outside the range (the rest of today, empty
--   for a range that ends now).

-- CreateTable
CREATE TABLE "usage_day_message_rollups" (
    "tenant_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "model" TEXT NOT NULL,
    "messages" INTEGER NOT NULL,
    "input_tokens" DECIMAL(65,30) NOT NULL,
    "output_tokens" DECIMAL(65,30) NOT NULL,

    CONSTRAINT "usage_day_message_rollups_pkey" PRIMARY KEY ("tenant_id","day","model")
);

-- CreateTable
CREATE TABLE "usage_day_sessions" (
    "tenant_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "durations" DOUBLE PRECISION[],
    "open" INTEGER NOT NULL,

    CONSTRAINT "usage_day_sessions_pkey" PRIMARY KEY ("tenant_id","day")
);
CREATE OR REPLACE FUNCTION "usage_apply_message_facts"(facts "usage_message_fact"[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  removes BOOLEAN := EXISTS (SELECT 1 FROM unnest(facts) f WHERE f.sign < 0);
BEGIN
  IF cardinality(facts) IS NULL OR cardinality(facts) = 0 THEN
    RETURN;
  END IF;

  INSERT INTO "usage_message_rollups" AS r (tenant_id, hour, channel, status, model, messages, input_tokens, output_tokens)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour, f.channel, f.status, f.model, sum(f.sign)::int AS messages,
      sum(f.sign * f.input_tokens) AS input_tokens, sum(f.sign * f.output_tokens) AS output_tokens
    FROM unnest(facts) f
    GROUP BY 1, 2, 3, 4, 5
  ) d
  WHERE d.messages <> 0 OR d.input_tokens <> 0 OR d.output_tokens <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, hour, channel, status, model) DO UPDATE
    SET messages = r.messages + excluded.messages,
        input_tokens = r.input_tokens + excluded.input_tokens,
        output_tokens = r.output_tokens + excluded.output_tokens;

  INSERT INTO "usage_day_message_rollups" AS r (tenant_id, day, model, messages, input_tokens, output_tokens)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour::date AS day, f.model, sum(f.sign)::int AS messages,
      sum(f.sign * f.input_tokens) AS input_tokens, sum(f.sign * f.output_tokens) AS output_tokens
    FROM unnest(facts) f
    GROUP BY 1, 2, 3
  ) d
  WHERE d.messages <> 0 OR d.input_tokens <> 0 OR d.output_tokens <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, day, model) DO UPDATE
    SET messages = r.messages + excluded.messages,
        input_tokens = r.input_tokens + excluded.input_tokens,
        output_tokens = r.output_tokens + excluded.output_tokens;

  INSERT INTO "usage_session_models" AS r (tenant_id, hour, model, session_id, messages)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour, f.model, f.session_id, sum(f.sign)::int AS messages
    FROM unnest(facts) f
    GROUP BY 1, 2, 3, 4
  ) d
  WHERE d.messages <> 0
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, hour, model, session_id) DO UPDATE SET messages = r.messages + excluded.messages;

  INSERT INTO "usage_latency_rollups" AS r (tenant_id, hour, channel, status, model, latency_ms, messages)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour, f.channel, f.status, f.model, f.latency_ms, sum(f.sign)::int AS messages
    FROM unnest(facts) f
    WHERE f.latency_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
  ) d
  WHERE d.messages <> 0
  ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, hour, channel, status, model, latency_ms) DO UPDATE SET messages = r.messages + excluded.messages;

  INSERT INTO "usage_hour_latencies" AS r (tenant_id, hour, latency_ms, messages)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour, f.latency_ms, sum(f.sign)::int AS messages
    FROM unnest(facts) f
    WHERE f.latency_ms IS NOT NULL
    GROUP BY 1, 2, 3
  ) d
  WHERE d.messages <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, hour, latency_ms) DO UPDATE SET messages = r.messages + excluded.messages;

  INSERT INTO "usage_day_latencies" AS r (tenant_id, day, latency_ms, messages)
  SELECT * FROM (
    SELECT f.tenant_id, f.hour::date AS day, f.latency_ms, sum(f.sign)::int AS messages
    FROM unnest(facts) f
    WHERE f.latency_ms IS NOT NULL
    GROUP BY 1, 2, 3
  ) d
  WHERE d.messages <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, day, latency_ms) DO UPDATE SET messages = r.messages + excluded.messages;

  IF removes THEN
    DELETE FROM "usage_message_rollups" r
    USING (SELECT DISTINCT tenant_id, hour, channel, status, model FROM unnest(facts) WHERE sign < 0) k
    WHERE (r.tenant_id, r.hour, r.channel, r.status, r.model) = (k.tenant_id, k.hour, k.channel, k.status, k.model)
      AND r.messages = 0;
    DELETE FROM "usage_day_message_rollups" r
    USING (SELECT DISTINCT tenant_id, hour::date AS day, model FROM unnest(facts) WHERE sign < 0) k
    WHERE (r.tenant_id, r.day, r.model) = (k.tenant_id, k.day, k.model) AND r.messages = 0;
    DELETE FROM "usage_session_models" r
    USING (SELECT DISTINCT tenant_id, hour, model, session_id FROM unnest(facts) WHERE sign < 0) k
    WHERE (r.tenant_id, r.hour, r.model, r.session_id) = (k.tenant_id, k.hour, k.model, k.session_id) AND r.messages = 0;
    DELETE FROM "usage_latency_rollups" r
    USING (SELECT DISTINCT tenant_id, hour, channel, status, model, latency_ms FROM unnest(facts) WHERE sign < 0 AND latency_ms IS NOT NULL) k
    WHERE (r.tenant_id, r.hour, r.channel, r.status, r.model, r.latency_ms) = (k.tenant_id, k.hour, k.channel, k.status, k.model, k.latency_ms)
      AND r.messages = 0;
    DELETE FROM "usage_hour_latencies" r
    USING (SELECT DISTINCT tenant_id, hour, latency_ms FROM unnest(facts) WHERE sign < 0 AND latency_ms IS NOT NULL) k
    WHERE (r.tenant_id, r.hour, r.latency_ms) = (k.tenant_id, k.hour, k.latency_ms) AND r.messages = 0;
    DELETE FROM "usage_day_latencies" r
    USING (SELECT DISTINCT tenant_id, hour::date AS day, latency_ms FROM unnest(facts) WHERE sign < 0 AND latency_ms IS NOT NULL) k
    WHERE (r.tenant_id, r.day, r.latency_ms) = (k.tenant_id, k.day, k.latency_ms) AND r.messages = 0;
  END IF;
  -- The rank arrays of the days whose latencies changed, rebuilt from their (by then final) day rows. Their rows are
  -- locked first (created empty when missing), in key order, and rebuilt by the next statement, whose snapshot then
  -- sees what a concurrent writer of the same day committed before this one got the lock: rebuilt in the same
  -- statement, two writers of one day that shared no rollup row could each write the day without the other's values.
  INSERT INTO "usage_day_latency_ranks" AS r (tenant_id, day, latencies, upto)
  SELECT DISTINCT f.tenant_id, f.hour::date, '{}'::float8[], '{}'::float8[] FROM unnest(facts) f WHERE f.latency_ms IS NOT NULL
  ORDER BY 1, 2
  ON CONFLICT (tenant_id, day) DO UPDATE SET latencies = r.latencies;
  WITH touched AS (
    SELECT DISTINCT f.tenant_id, f.hour::date AS day FROM unnest(facts) f WHERE f.latency_ms IS NOT NULL
  ), fresh AS (
    SELECT d.tenant_id, d.day, array_agg(d.latency_ms ORDER BY d.latency_ms) AS latencies, array_agg(d.upto::float8 ORDER BY d.latency_ms) AS upto
    FROM (
      SELECT l.tenant_id, l.day, l.latency_ms,
        sum(l.messages) OVER (PARTITION BY l.tenant_id, l.day ORDER BY l.latency_ms ROWS UNBOUNDED PRECEDING) AS upto
      FROM "usage_day_latencies" l JOIN touched t ON t.tenant_id = l.tenant_id AND t.day = l.day
      WHERE l.messages > 0
    ) d
    GROUP BY 1, 2
  ), written AS (
    INSERT INTO "usage_day_latency_ranks" AS r (tenant_id, day, latencies, upto)
    SELECT * FROM fresh ORDER BY 1, 2
    ON CONFLICT (tenant_id, day) DO UPDATE SET latencies = excluded.latencies, upto = excluded.upto
  )
  DELETE FROM "usage_day_latency_ranks" r
  USING touched t
  WHERE r.tenant_id = t.tenant_id AND r.day = t.day
    AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.tenant_id = t.tenant_id AND f.day = t.day);
END
$$;

CREATE OR REPLACE FUNCTION "usage_rollup_messages_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "usage_message_rollups", "usage_session_models", "usage_latency_rollups", "usage_day_latencies", "usage_day_latency_ranks",
    "usage_hour_latencies", "usage_day_message_rollups";
  RETURN NULL;
END
$$;

-- One session's contribution to its day: duration NULL while it is open (ended_at NULL), else ended_at - started_at
-- in seconds, exactly as the usage scan computes it (extract(epoch FROM coalesce(ended_at, last_activity_at) -
-- started_at), as double precision), counted sign times (+1 or -1).
CREATE TYPE "usage_session_fact" AS (
    "tenant_id" TEXT,
    "day" DATE,
    "duration" DOUBLE PRECISION,
    "sign" INTEGER
);

CREATE FUNCTION "usage_session_fact"(tenant_id TEXT, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, sign INTEGER)
RETURNS "usage_session_fact" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ROW(
    tenant_id,
    date_trunc('day', started_at AT TIME ZONE 'UTC')::date,
    CASE WHEN ended_at IS NOT NULL THEN extract(epoch FROM ended_at - started_at)::float8 END,
    sign
  )::"usage_session_fact"
$$;

-- Applies session facts to usage_day_sessions: per day, the durations taken out are removed from its array (one
-- element each), those put in are added, and the array is sorted again (O(sessions of the day) in memory; the sessions
-- table is not read); the open count moves by the open facts. The rows are locked first (created empty when missing),
-- in key order, so that concurrent writers of one day queue there without deadlocking; rows left empty are deleted.
CREATE FUNCTION "usage_apply_session_facts"(facts "usage_session_fact"[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(facts) IS NULL OR cardinality(facts) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO "usage_day_sessions" AS r (tenant_id, day, durations, open)
  SELECT DISTINCT f.tenant_id, f.day, '{}'::float8[], 0 FROM unnest(facts) f
  ORDER BY 1, 2
  ON CONFLICT (tenant_id, day) DO UPDATE SET open = r.open;

  UPDATE "usage_day_sessions" r
  SET durations = ARRAY(
        SELECT kept.v FROM (SELECT unnest(r.durations) AS v EXCEPT ALL SELECT unnest(d.removed)) kept
        UNION ALL
        SELECT unnest(d.added)
        ORDER BY 1),
      open = r.open + d.opened
  FROM (
    SELECT f.tenant_id, f.day,
      coalesce(array_agg(f.duration) FILTER (WHERE f.sign < 0 AND f.duration IS NOT NULL), '{}') AS removed,
      coalesce(array_agg(f.duration) FILTER (WHERE f.sign > 0 AND f.duration IS NOT NULL), '{}') AS added,
      coalesce(sum(f.sign) FILTER (WHERE f.duration IS NULL), 0)::int AS opened
    FROM unnest(facts) f
    GROUP BY 1, 2
  ) d
  WHERE r.tenant_id = d.tenant_id AND r.day = d.day;

  DELETE FROM "usage_day_sessions" r
  USING (SELECT DISTINCT f.tenant_id, f.day FROM unnest(facts) f) k
  WHERE r.tenant_id = k.tenant_id AND r.day = k.day AND cardinality(r.durations) = 0 AND r.open = 0;
END
$$;

-- Sessions inserted, deleted, or updated in started_at or ended_at (the old and the new version, found by set
-- difference of the transition tables, as usage_rollup_sessions_update finds moves): an append, which only advances
-- last_activity_at, gives no fact.
CREATE FUNCTION "usage_rollup_day_sessions"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  facts "usage_session_fact"[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    facts := ARRAY(SELECT "usage_session_fact"(n.tenant_id, n.started_at, n.ended_at, 1) FROM usage_new_day_sessions n);
  ELSIF TG_OP = 'DELETE' THEN
    facts := ARRAY(SELECT "usage_session_fact"(o.tenant_id, o.started_at, o.ended_at, -1) FROM usage_old_day_sessions o);
  ELSE
    facts := ARRAY(
      SELECT "usage_session_fact"(c.tenant_id, c.started_at, c.ended_at, c.sign)
      FROM (
        SELECT changed.*, -1 AS sign FROM (
          SELECT tenant_id, id, started_at, ended_at FROM usage_old_day_sessions
          EXCEPT SELECT tenant_id, id, started_at, ended_at FROM usage_new_day_sessions) changed
        UNION ALL
        SELECT changed.*, 1 AS sign FROM (
          SELECT tenant_id, id, started_at, ended_at FROM usage_new_day_sessions
          EXCEPT SELECT tenant_id, id, started_at, ended_at FROM usage_old_day_sessions) changed
      ) c);
  END IF;
  PERFORM "usage_apply_session_facts"(facts);
  RETURN NULL;
END
$$;

CREATE TRIGGER "usage_rollup_day_sessions_insert" AFTER INSERT ON "sessions"
  REFERENCING NEW TABLE AS usage_new_day_sessions FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_day_sessions"();
CREATE TRIGGER "usage_rollup_day_sessions_update" AFTER UPDATE ON "sessions"
  REFERENCING OLD TABLE AS usage_old_day_sessions NEW TABLE AS usage_new_day_sessions FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_day_sessions"();
CREATE TRIGGER "usage_rollup_day_sessions_delete" AFTER DELETE ON "sessions"
  REFERENCING OLD TABLE AS usage_old_day_sessions FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_day_sessions"();

CREATE FUNCTION "usage_rollup_sessions_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "usage_day_sessions";
  RETURN NULL;
END
$$;

CREATE TRIGGER "usage_rollup_sessions_truncate" AFTER TRUNCATE ON "sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_sessions_truncate"();

-- percentile_cont(p) for each p of ps over an ascending array of values (one element per value counted), with
-- percentile_cont's arithmetic (r = p * (n - 1), the values at ranks floor(r) and ceil(r), lo + (r - floor(r)) * (hi -
-- lo)), so the same bits; NULL for an empty array, as percentile_cont over no rows. PL/pgSQL, and all of ps in one call,
-- so that the array (stored out of line) is read once per row.
CREATE FUNCTION "usage_sorted_percentiles"(sorted DOUBLE PRECISION[], ps DOUBLE PRECISION[])
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  n INT := coalesce(cardinality(sorted), 0);
  p DOUBLE PRECISION;
  r DOUBLE PRECISION;
  lo DOUBLE PRECISION;
  hi DOUBLE PRECISION;
  result DOUBLE PRECISION[] := '{}';
BEGIN
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  FOREACH p IN ARRAY ps LOOP
    r := p * (n - 1);
    lo := sorted[floor(r)::int + 1];
    hi := sorted[ceil(r)::int + 1];
    result := result || (lo + ((r - floor(r)) * (hi - lo)));
  END LOOP;
  RETURN result;
END
$$;

-- percentile_cont(p) for each p of ps over a day's step latencies (its rank arrays in usage_day_latency_ranks: distinct
-- latencies ascending, running counts upto) less the values out_latencies (ascending, distinct) with running counts
-- out_upto (NULL: none); NULL when nothing is left. With nothing left out, the value at rank k is latencies[i] for the
-- first i with upto[i] > k, i = width_bucket(k, upto) + 1 (usage_rank_percentile). Otherwise it is latencies[i] for the
-- first i whose count left, upto[i] less the values left out at or below latencies[i]
-- (out_upto[width_bucket(latencies[i], out_latencies)]), exceeds k: a binary search, since that count never decreases
-- with i. Used for the whole days of an unfiltered DAY range, and for a partial day at its ends when the part outside
-- the range is the smaller one. The arithmetic is percentile_cont's, so are the bits.
CREATE FUNCTION "usage_rank_percentiles"(latencies DOUBLE PRECISION[], upto DOUBLE PRECISION[],
  out_latencies DOUBLE PRECISION[], out_upto DOUBLE PRECISION[], ps DOUBLE PRECISION[])
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  outs INT := coalesce(cardinality(out_latencies), 0);
  n DOUBLE PRECISION := upto[cardinality(upto)] - CASE WHEN outs = 0 THEN 0 ELSE out_upto[outs] END;
  p DOUBLE PRECISION;
  r DOUBLE PRECISION;
  k DOUBLE PRECISION;
  found DOUBLE PRECISION[];
  result DOUBLE PRECISION[] := '{}';
  lo INT;
  hi INT;
  mid INT;
  j INT;
  kept DOUBLE PRECISION;
BEGIN
  IF n IS NULL OR n <= 0 THEN
    RETURN NULL;
  END IF;
  FOREACH p IN ARRAY ps LOOP
    r := p * (n - 1);
    found := '{}';
    FOREACH k IN ARRAY ARRAY[floor(r), ceil(r)] LOOP
      IF outs = 0 THEN
        lo := width_bucket(k, upto) + 1;
      ELSE
        lo := 1;
        hi := cardinality(latencies);
        WHILE lo < hi LOOP
          mid := (lo + hi) / 2;
          j := width_bucket(latencies[mid], out_latencies);
          kept := upto[mid] - CASE WHEN j = 0 THEN 0 ELSE out_upto[j] END;
          IF kept > k THEN
            hi := mid;
          ELSE
            lo := mid + 1;
          END IF;
        END LOOP;
      END IF;
      found := found || latencies[lo];
    END LOOP;
    result := result || (found[1] + ((r - floor(r)) * (found[2] - found[1])));
  END LOOP;
  RETURN result;
END
$$;

-- Backfill (this migration's locks keep writers out until it commits).
INSERT INTO "usage_day_message_rollups" (tenant_id, day, model, messages, input_tokens, output_tokens)
SELECT tenant_id, hour::date, model, sum(messages)::int, sum(input_tokens), sum(output_tokens)
FROM "usage_message_rollups" GROUP BY 1, 2, 3 HAVING sum(messages) <> 0 ORDER BY 1, 2, 3;

INSERT INTO "usage_day_sessions" (tenant_id, day, durations, open)
SELECT s.tenant_id, s.day, coalesce(array_agg(s.duration ORDER BY s.duration) FILTER (WHERE s.ended), '{}'),
  count(*) FILTER (WHERE NOT s.ended)::int
FROM (
  SELECT tenant_id, date_trunc('day', started_at AT TIME ZONE 'UTC')::date AS day, ended_at IS NOT NULL AS ended,
    extract(epoch FROM coalesce(ended_at, last_activity_at) - started_at)::float8 AS duration
  FROM "sessions"
) s
GROUP BY 1, 2
ORDER BY 1, 2;

-- Statistics now, so that the first usage queries plan with them rather than with defaults.
ANALYZE "usage_day_message_rollups", "usage_day_sessions";
