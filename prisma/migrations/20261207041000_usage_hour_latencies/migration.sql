-- Step latencies per tenant and UTC hour, whatever the channel, status and model (docs/decisions/0014): what an
-- unfiltered DAY or WEEK query ranks for the partial days at its range's ends, a few rows per hour instead of one per
-- (channel, status, model, latency) of usage_latency_rollups. Kept by usage_apply_message_facts like the other
-- rollups (upserted in key order, rows that fall to zero deleted), emptied by TRUNCATE, backfilled here.

-- CreateTable
CREATE TABLE "usage_hour_latencies" (
    "tenant_id" TEXT NOT NULL,
    "hour" TIMESTAMP(0) NOT NULL,
    "latency_ms" DOUBLE PRECISION NOT NULL,
    "messages" INTEGER NOT NULL,

    CONSTRAINT "usage_hour_latencies_pkey" PRIMARY KEY ("tenant_id","hour","latency_ms")
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

CREATE OR REPLACE FUNCTION "usage_rollup_messages_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "usage_message_rollups", "usage_session_models", "usage_latency_rollups", "usage_day_latencies", "usage_day_latency_ranks",
    "usage_hour_latencies";
  RETURN NULL;
END
$$;

-- Backfill (this migration's locks keep writers out until it commits).
INSERT INTO "usage_hour_latencies" (tenant_id, hour, latency_ms, messages)
SELECT tenant_id, hour, latency_ms, sum(messages)::int FROM "usage_latency_rollups" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
