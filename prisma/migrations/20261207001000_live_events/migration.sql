-- Live events for GraphQL subscriptions (src/live/): every committed change a subscriber may see is announced on the
-- channel "convoql_live" with a small JSON payload of ids (never rows), whoever wrote it: the API, the expiry job,
-- another replica, or SQL typed by hand. Subscribers read the rows through the tenant-checked loaders.
-- Payload keys: k = kind (session.created, session.status, session.updated, message.added), t = tenant, s = session id,
-- m = message id.

CREATE FUNCTION convoql_live_session_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('convoql_live', json_build_object(
    'k', CASE WHEN TG_OP = 'INSERT' THEN 'session.created'
              WHEN OLD.status IS DISTINCT FROM NEW.status THEN 'session.status'
              ELSE 'session.updated' END,
    't', NEW.tenant_id,
    's', NEW.id)::text);
  RETURN NULL;
END
$$;

CREATE FUNCTION convoql_live_message_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('convoql_live', json_build_object('k', 'message.added', 't', NEW.tenant_id, 's', NEW.session_id, 'm', NEW.id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER sessions_live_insert AFTER INSERT ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION convoql_live_session_notify();

-- Only changes a subscriber sees: last_activity_at alone moves with every message, which message.added announces.
CREATE TRIGGER sessions_live_update AFTER UPDATE ON "sessions"
  FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status OR OLD.ended_at IS DISTINCT FROM NEW.ended_at
    OR OLD.metadata IS DISTINCT FROM NEW.metadata OR OLD.channel IS DISTINCT FROM NEW.channel
    OR OLD.external_id IS DISTINCT FROM NEW.external_id)
  EXECUTE FUNCTION convoql_live_session_notify();

CREATE TRIGGER messages_live_insert AFTER INSERT ON "messages"
  FOR EACH ROW EXECUTE FUNCTION convoql_live_message_notify();
