-- appendMessages' idempotency key: the writer's own message id, unique within a session. Existing rows (and rows
-- written later by SQL or the seed) keep NULL, which never conflicts: PostgreSQL's unique indexes treat NULLs as
-- distinct. A session id belongs to exactly one tenant (messages' composite foreign key), so (session_id,
-- client_message_id) is the key (tenant, session, clientMessageId).
ALTER TABLE "messages" ADD COLUMN "client_message_id" TEXT;

CREATE UNIQUE INDEX "messages_session_id_client_message_id_key" ON "messages"("session_id", "client_message_id");

-- The agent thread of a session (hand-written: Prisma cannot declare a generated column). The metadata key `threadId`
-- (a non-empty string) is the one source: upsertSession writes it, and so may SQL, which links a session by setting
-- that key; the column is derived, indexed, and never written directly.
ALTER TABLE "sessions" ADD COLUMN "thread_id" TEXT GENERATED ALWAYS AS (
  CASE WHEN jsonb_typeof("metadata" -> 'threadId') = 'string' AND "metadata" ->> 'threadId' <> '' THEN "metadata" ->> 'threadId' END
) STORED;

-- A thread's sessions (Conversation.sessions, keyset by start), the hasConversation and conversations' channel filters.
CREATE INDEX "sessions_tenant_id_thread_id_started_at_id_idx" ON "sessions"("tenant_id", "thread_id", "started_at", "id");
