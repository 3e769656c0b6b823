-- LangGraph's four checkpoint tables, exactly as PostgresSaver.setup() of
-- @langchain/langgraph-checkpoint-postgres leaves them after its migrations 0-4 (same columns, types,
-- defaults and primary keys; checkpoint_blobs.blob is nullable). Prisma treats them as external
-- tables (src/db/langgraph-tables.ts, prisma.config.ts): no later migration creates, alters or drops them.
--
-- Idempotent, because LangGraph (JS or Python) may have created them first: an existing table is left
-- as it is, including extra columns (Python's checkpoint_writes.task_path), extra indexes
-- (checkpoints_thread_id_idx, ...) and a blob column whose NOT NULL is or is not dropped yet;
-- a primary key is only added where a table has none.
--
-- No rows are inserted into checkpoint_migrations: LangGraph's own setup() then runs its idempotent
-- migrations (CREATE TABLE IF NOT EXISTS, DROP NOT NULL) and keeps its own bookkeeping.

CREATE TABLE IF NOT EXISTS "public"."checkpoint_migrations" (
    "v" INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS "public"."checkpoints" (
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "checkpoint_id" TEXT NOT NULL,
    "parent_checkpoint_id" TEXT,
    "type" TEXT,
    "checkpoint" JSONB NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS "public"."checkpoint_blobs" (
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "channel" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "blob" BYTEA
);

CREATE TABLE IF NOT EXISTS "public"."checkpoint_writes" (
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL DEFAULT '',
    "checkpoint_id" TEXT NOT NULL,
    "task_id" TEXT NOT NULL,
    "idx" INTEGER NOT NULL,
    "channel" TEXT NOT NULL,
    "type" TEXT,
    "blob" BYTEA NOT NULL
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = '"public"."checkpoint_migrations"'::regclass AND contype = 'p') THEN
        ALTER TABLE "public"."checkpoint_migrations"
            ADD CONSTRAINT "checkpoint_migrations_pkey" PRIMARY KEY ("v");
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = '"public"."checkpoints"'::regclass AND contype = 'p') THEN
        ALTER TABLE "public"."checkpoints"
            ADD CONSTRAINT "checkpoints_pkey" PRIMARY KEY ("thread_id", "checkpoint_ns", "checkpoint_id");
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = '"public"."checkpoint_blobs"'::regclass AND contype = 'p') THEN
        ALTER TABLE "public"."checkpoint_blobs"
            ADD CONSTRAINT "checkpoint_blobs_pkey" PRIMARY KEY ("thread_id", "checkpoint_ns", "channel", "version");
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = '"public"."checkpoint_writes"'::regclass AND contype = 'p') THEN
        ALTER TABLE "public"."checkpoint_writes"
            ADD CONSTRAINT "checkpoint_writes_pkey" PRIMARY KEY ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx");
    END IF;
END
$$;
