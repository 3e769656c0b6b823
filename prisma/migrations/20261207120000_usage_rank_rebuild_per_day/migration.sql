-- usage_apply_message_facts rebuilds the rank arrays of the days a statement touched by reading each of those days
-- by its key. It joined the touched days to usage_day_latencies, and the planner, which expects 1,000 rows from
-- unnest, merged the join with the whole table's index: every statement that wrote a step latency read all the days
-- of all tenants (163,000 rows, 136 ms on the benchmark data), a cost that grew with the table. Otherwise unchanged.

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
    -- Each touched day read by its key (LATERAL): a join let the planner, which expects 1,000 touched days from
    -- unnest, merge with the whole usage_day_latencies index, a read that grew with the table.
    SELECT t.tenant_id, t.day, d.latencies, d.upto
    FROM touched t
    CROSS JOIN LATERAL (
      SELECT array_agg(ranked.latency_ms ORDER BY ranked.latency_ms) AS latencies,
        array_agg(ranked.upto::float8 ORDER BY ranked.latency_ms) AS upto
      FROM (
        SELECT l.latency_ms, sum(l.messages) OVER (ORDER BY l.latency_ms ROWS UNBOUNDED PRECEDING) AS upto
        FROM "usage_day_latencies" l
        WHERE l.tenant_id = t.tenant_id AND l.day = t.day AND l.messages > 0
      ) ranked
    ) d
    WHERE d.latencies IS NOT NULL
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

-- Its statements are short and planned from unnest's guesses (1,000 rows or more), which can cross jit_above_cost:
-- compiling one with LLVM took 425 ms against 7 ms to run it. PGlite has no JIT; PostgreSQL builds with LLVM do.
ALTER FUNCTION "usage_apply_message_facts"("usage_message_fact"[]) SET jit = off;
