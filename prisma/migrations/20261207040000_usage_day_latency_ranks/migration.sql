-- Exact step-latency percentiles of whole UTC days in O(days) (docs/decisions/0014-usage-percentiles.md): per tenant and
-- day, the distinct latencies in ascending order and, for each, how many of the day's assistant messages have that
-- latency or less (running counts). The value at rank k of a day is latencies[i] for the first i with upto[i] > k,
-- found by binary search (width_bucket over upto), so usage by DAY reads one row per day instead of one per distinct
-- latency. Running counts are stored as double precision (exact below 2^53), the type width_bucket compares them in. usage_apply_message_facts rebuilds the arrays of the days a statement's facts touch, from usage_day_latencies
-- (one index range per day); TRUNCATE empties them with the other rollups; the existing days are backfilled here.

-- CreateTable
CREATE TABLE "usage_day_latency_ranks" (
    "tenant_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "latencies" DOUBLE PRECISION[],
    "upto" DOUBLE PRECISION[],

    CONSTRAINT "usage_day_latency_ranks_pkey" PRIMARY KEY ("tenant_id","day")
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
    DELETE FROM "usage_session_models" r
    USING (SELECT DISTINCT tenant_id, hour, model, session_id FROM unnest(facts) WHERE sign < 0) k
    WHERE (r.tenant_id, r.hour, r.model, r.session_id) = (k.tenant_id, k.hour, k.model, k.session_id) AND r.messages = 0;
    DELETE FROM "usage_latency_rollups" r
    USING (SELECT DISTINCT tenant_id, hour, channel, status, model, latency_ms FROM unnest(facts) WHERE sign < 0 AND latency_ms IS NOT NULL) k
    WHERE (r.tenant_id, r.hour, r.channel, r.status, r.model, r.latency_ms) = (k.tenant_id, k.hour, k.channel, k.status, k.model, k.latency_ms)
      AND r.messages = 0;
    DELETE FROM "usage_day_latencies" r
    USING (SELECT DISTINCT tenant_id, hour::date AS day, latency_ms FROM unnest(facts) WHERE sign < 0 AND latency_ms IS NOT NULL) k
    WHERE (r.tenant_id, r.day, r.latency_ms) = (k.tenant_id, k.day, k.latency_ms) AND r.messages = 0;
  END IF;
  -- The rank arrays of the days whose latencies changed, rebuilt from their (by then final) day rows.
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

-- percentile_cont(p) of a day from its rank arrays, with percentile_cont's arithmetic (r = p * (n - 1), the values at
-- ranks floor(r) and ceil(r), lo + (r - floor(r)) * (hi - lo)), so the same bits. In PL/pgSQL so that the arrays,
-- stored out of line, are read once per call (array parameters are expanded on entry), not once per reference.
CREATE FUNCTION "usage_rank_percentile"(latencies DOUBLE PRECISION[], upto DOUBLE PRECISION[], p DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r DOUBLE PRECISION := p * (upto[cardinality(upto)] - 1);
  lo DOUBLE PRECISION := latencies[width_bucket(floor(r), upto) + 1];
  hi DOUBLE PRECISION := latencies[width_bucket(ceil(r), upto) + 1];
BEGIN
  RETURN lo + ((r - floor(r)) * (hi - lo));
END
$$;

CREATE OR REPLACE FUNCTION "usage_rollup_messages_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "usage_message_rollups", "usage_session_models", "usage_latency_rollups", "usage_day_latencies", "usage_day_latency_ranks";
  RETURN NULL;
END
$$;

-- Backfill (this migration's locks keep writers out until it commits).
INSERT INTO "usage_day_latency_ranks" (tenant_id, day, latencies, upto)
SELECT d.tenant_id, d.day, array_agg(d.latency_ms ORDER BY d.latency_ms), array_agg(d.upto::float8 ORDER BY d.latency_ms)
FROM (
  SELECT l.tenant_id, l.day, l.latency_ms,
    sum(l.messages) OVER (PARTITION BY l.tenant_id, l.day ORDER BY l.latency_ms ROWS UNBOUNDED PRECEDING) AS upto
  FROM "usage_day_latencies" l
  WHERE l.messages > 0
) d
GROUP BY 1, 2
ORDER BY 1, 2;
