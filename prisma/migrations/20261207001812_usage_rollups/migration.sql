-- CreateTable
CREATE TABLE "usage_message_rollups" (
    "tenant_id" TEXT NOT NULL,
    "hour" TIMESTAMP(0) NOT NULL,
    "channel" TEXT NOT NULL,
    "status" "session_status" NOT NULL,
    "model" TEXT NOT NULL,
    "messages" INTEGER NOT NULL,
    "input_tokens" DECIMAL(65,30) NOT NULL,
    "output_tokens" DECIMAL(65,30) NOT NULL,

    CONSTRAINT "usage_message_rollups_pkey" PRIMARY KEY ("tenant_id","hour","channel","status","model")
);

-- CreateTable
CREATE TABLE "usage_session_models" (
    "tenant_id" TEXT NOT NULL,
    "hour" TIMESTAMP(0) NOT NULL,
    "model" TEXT NOT NULL,
    "session_id" UUID NOT NULL,
    "messages" INTEGER NOT NULL,

    CONSTRAINT "usage_session_models_pkey" PRIMARY KEY ("tenant_id","hour","model","session_id")
);

-- CreateTable
CREATE TABLE "usage_latency_rollups" (
    "tenant_id" TEXT NOT NULL,
    "hour" TIMESTAMP(0) NOT NULL,
    "channel" TEXT NOT NULL,
    "status" "session_status" NOT NULL,
    "model" TEXT NOT NULL,
    "latency_ms" DOUBLE PRECISION NOT NULL,
    "messages" INTEGER NOT NULL,

    CONSTRAINT "usage_latency_rollups_pkey" PRIMARY KEY ("tenant_id","hour","channel","status","model","latency_ms")
);

-- CreateTable
CREATE TABLE "usage_day_latencies" (
    "tenant_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "latency_ms" DOUBLE PRECISION NOT NULL,
    "messages" INTEGER NOT NULL,

    CONSTRAINT "usage_day_latencies_pkey" PRIMARY KEY ("tenant_id","day","latency_ms")
);

-- Usage rollups (docs/decisions/0008-usage-rollups.md), kept by triggers so that every writer, SQL by hand included,
-- keeps them: statement-level triggers with transition tables on messages (one pass over a bulk insert, not a call
-- per row), and on sessions for the changes that move a session's messages between channels and statuses. Every
-- change is turned into signed facts (one per message: +1 added, -1 removed) and applied by one function. The
-- facts read message metadata exactly as the usage scan does (src/analytics/usage.repository.ts).

-- One message's contribution, as the rollups key it.
CREATE TYPE "usage_message_fact" AS (
    "tenant_id" TEXT,
    "session_id" UUID,
    "hour" TIMESTAMP(0),
    "channel" TEXT,
    "status" "session_status",
    "model" TEXT,
    "input_tokens" NUMERIC,
    "output_tokens" NUMERIC,
    "latency_ms" DOUBLE PRECISION,
    "sign" INTEGER
);

-- The fact of message `m` in a session of `channel` and `status`, counted `sign` times (+1 or -1). The hour is the
-- UTC wall-clock hour, whatever the connection's TimeZone; tokens and latency as the usage scan reads them.
CREATE FUNCTION "usage_message_fact"(m "messages", channel TEXT, status "session_status", sign INTEGER)
RETURNS "usage_message_fact" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ROW(
    m.tenant_id,
    m.session_id,
    date_trunc('hour', m.created_at AT TIME ZONE 'UTC'),
    channel,
    status,
    coalesce(m.metadata->>'model', 'unknown'),
    CASE WHEN jsonb_typeof(m.metadata->'usage'->'inputTokens') = 'number' THEN (m.metadata->'usage'->'inputTokens')::numeric ELSE 0 END,
    CASE WHEN jsonb_typeof(m.metadata->'usage'->'outputTokens') = 'number' THEN (m.metadata->'usage'->'outputTokens')::numeric ELSE 0 END,
    CASE WHEN m.role = 'ASSISTANT' AND jsonb_typeof(m.metadata->'latencyMs') = 'number' THEN (m.metadata->'latencyMs')::float8 END,
    sign
  )::"usage_message_fact"
$$;

-- Adds the facts to the rollups. Rows are upserted in key order, so that concurrent writers lock shared rollup rows
-- in the same order (no deadlock between two statements); rows a removal brings to zero are deleted, so that a
-- bucket exists exactly when something is in it.
CREATE FUNCTION "usage_apply_message_facts"(facts "usage_message_fact"[]) RETURNS void LANGUAGE plpgsql AS $$
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
END
$$;

-- Messages inserted, updated or deleted: their facts with their session's current channel and status. The sessions
-- are locked first (FOR NO KEY UPDATE, in id order), so that a concurrent status change either sees these messages
-- or is seen by this trigger (never a message counted under the status its session just left), and so that two
-- writers of one session queue at the session instead of deadlocking on rollup rows. A deleted message whose session
-- is gone was taken out by the session's delete trigger (below) and is skipped.
CREATE FUNCTION "usage_rollup_messages"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  facts "usage_message_fact"[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM "sessions" s
    WHERE (s.tenant_id, s.id) IN (SELECT DISTINCT n.tenant_id, n.session_id FROM usage_new_messages n)
    ORDER BY s.id FOR NO KEY UPDATE;
    facts := ARRAY(
      SELECT "usage_message_fact"(n, s.channel, s.status, 1)
      FROM usage_new_messages n JOIN "sessions" s ON s.tenant_id = n.tenant_id AND s.id = n.session_id);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM 1 FROM "sessions" s
    WHERE (s.tenant_id, s.id) IN (SELECT DISTINCT o.tenant_id, o.session_id FROM usage_old_messages o)
    ORDER BY s.id FOR NO KEY UPDATE;
    facts := ARRAY(
      SELECT "usage_message_fact"(o, s.channel, s.status, -1)
      FROM usage_old_messages o JOIN "sessions" s ON s.tenant_id = o.tenant_id AND s.id = o.session_id);
  ELSE
    PERFORM 1 FROM "sessions" s
    WHERE (s.tenant_id, s.id) IN (
      SELECT o.tenant_id, o.session_id FROM usage_old_messages o UNION SELECT n.tenant_id, n.session_id FROM usage_new_messages n)
    ORDER BY s.id FOR NO KEY UPDATE;
    facts := ARRAY(
      SELECT "usage_message_fact"(o, s.channel, s.status, -1)
      FROM usage_old_messages o JOIN "sessions" s ON s.tenant_id = o.tenant_id AND s.id = o.session_id
      UNION ALL
      SELECT "usage_message_fact"(n, s.channel, s.status, 1)
      FROM usage_new_messages n JOIN "sessions" s ON s.tenant_id = n.tenant_id AND s.id = n.session_id);
  END IF;
  PERFORM "usage_apply_message_facts"(facts);
  RETURN NULL;
END
$$;

CREATE TRIGGER "usage_rollup_messages_insert" AFTER INSERT ON "messages"
  REFERENCING NEW TABLE AS usage_new_messages FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_messages"();
CREATE TRIGGER "usage_rollup_messages_update" AFTER UPDATE ON "messages"
  REFERENCING OLD TABLE AS usage_old_messages NEW TABLE AS usage_new_messages FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_messages"();
CREATE TRIGGER "usage_rollup_messages_delete" AFTER DELETE ON "messages"
  REFERENCING OLD TABLE AS usage_old_messages FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_messages"();

-- Sessions whose channel or status changed: their messages move from the old (channel, status) to the new one.
-- (Sessions themselves are counted from the sessions table, which their duration percentiles need row by row.)
CREATE FUNCTION "usage_rollup_sessions_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "usage_apply_message_facts"(ARRAY(
    SELECT "usage_message_fact"(m, o.channel, o.status, -1)
    FROM usage_old_sessions o
    JOIN usage_new_sessions n ON n.id = o.id
    JOIN "messages" m ON m.tenant_id = o.tenant_id AND m.session_id = o.id
    WHERE (o.channel, o.status) IS DISTINCT FROM (n.channel, n.status)
    UNION ALL
    SELECT "usage_message_fact"(m, n.channel, n.status, 1)
    FROM usage_old_sessions o
    JOIN usage_new_sessions n ON n.id = o.id
    JOIN "messages" m ON m.tenant_id = n.tenant_id AND m.session_id = n.id
    WHERE (o.channel, o.status) IS DISTINCT FROM (n.channel, n.status)));
  RETURN NULL;
END
$$;

CREATE TRIGGER "usage_rollup_sessions_update" AFTER UPDATE ON "sessions"
  REFERENCING OLD TABLE AS usage_old_sessions NEW TABLE AS usage_new_sessions FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_sessions_update"();

-- A deleted session takes its messages out of the rollups while they are still there: the cascade deletes them after
-- the session row is gone, when their channel and status can no longer be read (the messages trigger skips them).
CREATE FUNCTION "usage_rollup_sessions_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "usage_apply_message_facts"(ARRAY(
    SELECT "usage_message_fact"(m, OLD.channel, OLD.status, -1)
    FROM "messages" m WHERE m.tenant_id = OLD.tenant_id AND m.session_id = OLD.id));
  RETURN OLD;
END
$$;

CREATE TRIGGER "usage_rollup_sessions_delete" BEFORE DELETE ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "usage_rollup_sessions_delete"();

-- TRUNCATE empties the rollups of every tenant (messages are truncated whenever sessions are).
CREATE FUNCTION "usage_rollup_messages_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "usage_message_rollups", "usage_session_models", "usage_latency_rollups", "usage_day_latencies";
  RETURN NULL;
END
$$;

CREATE TRIGGER "usage_rollup_messages_truncate" AFTER TRUNCATE ON "messages"
  FOR EACH STATEMENT EXECUTE FUNCTION "usage_rollup_messages_truncate"();

-- Backfill from the existing messages (the triggers above are in place, and this migration's locks keep writers out
-- until it commits, so nothing is counted twice or missed). Rows are written in key order, so that a range of hours
-- or days is read from neighbouring pages.
CREATE TEMPORARY TABLE "usage_backfill_facts" AS
SELECT (f).* FROM (
  SELECT "usage_message_fact"(m, s.channel, s.status, 1) AS f
  FROM "messages" m JOIN "sessions" s ON s.tenant_id = m.tenant_id AND s.id = m.session_id
) x;

INSERT INTO "usage_message_rollups" (tenant_id, hour, channel, status, model, messages, input_tokens, output_tokens)
SELECT tenant_id, hour, channel, status, model, count(*), sum(input_tokens), sum(output_tokens)
FROM "usage_backfill_facts" GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;

INSERT INTO "usage_session_models" (tenant_id, hour, model, session_id, messages)
SELECT tenant_id, hour, model, session_id, count(*) FROM "usage_backfill_facts" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;

INSERT INTO "usage_latency_rollups" (tenant_id, hour, channel, status, model, latency_ms, messages)
SELECT tenant_id, hour, channel, status, model, latency_ms, count(*)
FROM "usage_backfill_facts" WHERE latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6;

INSERT INTO "usage_day_latencies" (tenant_id, day, latency_ms, messages)
SELECT tenant_id, hour::date, latency_ms, count(*) FROM "usage_backfill_facts" WHERE latency_ms IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

DROP TABLE "usage_backfill_facts";
