-- CreateTable
CREATE TABLE "conversation_step_index" (
    "thread_id" TEXT NOT NULL,
    "checkpoint_ns" TEXT NOT NULL,
    "checkpoint_id" TEXT NOT NULL,
    "parent_checkpoint_id" TEXT,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "steps_before" INTEGER NOT NULL,
    "step_count" INTEGER NOT NULL,
    "type_counts" JSONB NOT NULL,
    "input_tokens" INTEGER NOT NULL,
    "output_tokens" INTEGER NOT NULL,
    "reasoning_tokens" INTEGER NOT NULL,
    "total_tokens" INTEGER NOT NULL,
    "models" TEXT[],
    "model_tokens" JSONB NOT NULL,
    "write_count" INTEGER NOT NULL,
    "messages_bytes" INTEGER,
    "messages_count" INTEGER,
    "messages_digest" TEXT,
    "messages_extends_parent" BOOLEAN,

    CONSTRAINT "conversation_step_index_pkey" PRIMARY KEY ("thread_id","checkpoint_ns","checkpoint_id")
);

-- CreateIndex
CREATE INDEX "conversation_step_index_thread_id_checkpoint_ns_steps_befor_idx" ON "conversation_step_index"("thread_id", "checkpoint_ns", "steps_before", "checkpoint_id");
