-- Live events of agent threads (decision 0015), on the channel "convoql_live" of the live_events migration.
--
-- 1. LangGraph's own writes announce themselves: a checkpoint of a thread's root graph, and the writes that change a
--    thread without a new checkpoint (interrupt, resume, error), notify {"k":"thread.checkpoint","th":<thread_id>}.
--    The payload names the thread only (checkpoint rows carry no tenant); each process maps the thread to the
--    conversations its own subscribers may read. These triggers are ours on tables LangGraph owns (decision 0003):
--    CREATE TABLE IF NOT EXISTS in LangGraph's setup() leaves them in place, and the WHEN clauses keep the cost of the
--    other writes (subgraph checkpoints, ordinary task writes) to evaluating a condition, without a function call.
-- 2. The conversations rows the sync writes announce what changed for conversationChanged, with the tenant:
--    {"k":"conversation.changed","t":<tenant>,"c":<conversation id>,"th":<thread_id>,"x":[CREATED|ADVANCED|…|FAILED]}.
--    It also wakes the thread's replayTail readers, so that with the triggers of (1) disabled
--    (ALTER TABLE checkpoints DISABLE TRIGGER checkpoints_live, and checkpoint_writes_live) live events still follow
--    the agent, at the conversation sync's interval.

CREATE FUNCTION convoql_live_thread_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('convoql_live', json_build_object('k', 'thread.checkpoint', 'th', NEW.thread_id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER checkpoints_live AFTER INSERT OR UPDATE ON "public"."checkpoints"
  FOR EACH ROW WHEN (NEW.checkpoint_ns = '')
  EXECUTE FUNCTION convoql_live_thread_notify();

CREATE TRIGGER checkpoint_writes_live AFTER INSERT OR UPDATE ON "public"."checkpoint_writes"
  FOR EACH ROW WHEN (NEW.checkpoint_ns = '' AND NEW.channel IN ('__interrupt__', '__resume__', '__error__'))
  EXECUTE FUNCTION convoql_live_thread_notify();

CREATE FUNCTION convoql_live_conversation_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text[] := ARRAY[]::text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    changes := ARRAY['CREATED'];
  ELSIF OLD.last_checkpoint_id IS DISTINCT FROM NEW.last_checkpoint_id THEN
    changes := ARRAY['ADVANCED'];
  END IF;
  IF NEW.status = 'INTERRUPTED' AND (TG_OP = 'INSERT' OR OLD.status <> 'INTERRUPTED'
                                     OR OLD.pending_interrupt IS DISTINCT FROM NEW.pending_interrupt) THEN
    changes := changes || 'INTERRUPTED'::text;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status = 'INTERRUPTED'
     AND (NEW.status <> 'INTERRUPTED' OR OLD.pending_interrupt IS DISTINCT FROM NEW.pending_interrupt) THEN
    changes := changes || 'RESUMED'::text;
  END IF;
  IF NEW.status = 'ERROR' AND (TG_OP = 'INSERT' OR OLD.status <> 'ERROR' OR OLD.last_error IS DISTINCT FROM NEW.last_error) THEN
    changes := changes || 'FAILED'::text;
  END IF;
  IF cardinality(changes) > 0 THEN
    PERFORM pg_notify('convoql_live', json_build_object(
      'k', 'conversation.changed', 't', NEW.tenant_id, 'c', NEW.id, 'th', NEW.thread_id, 'x', changes)::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER conversations_live_insert AFTER INSERT ON "conversations"
  FOR EACH ROW EXECUTE FUNCTION convoql_live_conversation_notify();

CREATE TRIGGER conversations_live_update AFTER UPDATE ON "conversations"
  FOR EACH ROW WHEN (
    OLD.last_checkpoint_id IS DISTINCT FROM NEW.last_checkpoint_id OR OLD.status IS DISTINCT FROM NEW.status
    OR OLD.pending_interrupt IS DISTINCT FROM NEW.pending_interrupt OR OLD.last_error IS DISTINCT FROM NEW.last_error)
  EXECUTE FUNCTION convoql_live_conversation_notify();
