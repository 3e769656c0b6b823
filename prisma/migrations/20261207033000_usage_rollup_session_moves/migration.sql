-- The usage rollups' sessions trigger (migration usage_rollups) joined the updated sessions with ALL messages before
-- keeping only the sessions whose channel or status changed: its plan hashed the whole messages table on every UPDATE
-- of sessions, even one that moves nothing (an append advancing last_activity_at, an upsert of metadata): 0.5 s per
-- statement with 200,000 messages, growing with the table, so a bulk import slowed down as it went. Now the sessions
-- that moved are found first, by set difference of the transition tables (hashed: the old (tenant, id, channel, status)
-- rows that are not among the new ones are taken out, the new ones not among the old are put in), and only their
-- messages are read, through the messages index (a LATERAL subquery per moved session). What it counts is unchanged;
-- a statement that moves nothing reads no message.
CREATE OR REPLACE FUNCTION "usage_rollup_sessions_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "usage_apply_message_facts"(ARRAY(
    SELECT f.fact
    FROM (
      SELECT moved.*, -1 AS sign FROM (
        SELECT tenant_id, id, channel, status FROM usage_old_sessions
        EXCEPT SELECT tenant_id, id, channel, status FROM usage_new_sessions) moved
      UNION ALL
      SELECT moved.*, 1 AS sign FROM (
        SELECT tenant_id, id, channel, status FROM usage_new_sessions
        EXCEPT SELECT tenant_id, id, channel, status FROM usage_old_sessions) moved
    ) s
    CROSS JOIN LATERAL (
      SELECT "usage_message_fact"(m, s.channel, s.status, s.sign) AS fact
      FROM "messages" m WHERE m.tenant_id = s.tenant_id AND m.session_id = s.id
    ) f));
  RETURN NULL;
END
$$;
