-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "metadata" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "models" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "tool_names" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "total_tokens" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "conversation_search_steps" (
    "conversation_id" UUID NOT NULL,
    "checkpoint_id" TEXT NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "tsv" tsvector,

    CONSTRAINT "conversation_search_steps_pkey" PRIMARY KEY ("conversation_id","checkpoint_id","ordinal")
);

-- CreateIndex
CREATE INDEX "conversation_search_steps_tsv_idx" ON "conversation_search_steps" USING GIN ("tsv");

-- CreateIndex
CREATE INDEX "conversations_tenant_id_cost_usd_id_idx" ON "conversations"("tenant_id", "cost_usd", "id");

-- CreateIndex
CREATE INDEX "conversations_tenant_id_total_tokens_id_idx" ON "conversations"("tenant_id", "total_tokens", "id");

-- CreateIndex
CREATE INDEX "conversations_tenant_id_step_count_id_idx" ON "conversations"("tenant_id", "step_count", "id");

-- CreateIndex
CREATE INDEX "conversations_metadata_idx" ON "conversations" USING GIN ("metadata" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "conversations_models_idx" ON "conversations" USING GIN ("models");

-- CreateIndex
CREATE INDEX "conversations_tool_names_idx" ON "conversations" USING GIN ("tool_names");

-- AddForeignKey
ALTER TABLE "conversation_search_steps" ADD CONSTRAINT "conversation_search_steps_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill (hand-written): total tokens of the existing conversations, and a full re-sync of every thread on the next
-- sync pass, which stores its metadata, models, tools and search steps: the sync indexes the root graph again from
-- the newest checkpoint it has read (last_checkpoint_id), so forgetting it and the root step index re-reads all.
UPDATE "conversations" SET "total_tokens" = "input_tokens" + "output_tokens", "last_checkpoint_id" = NULL;
DELETE FROM "conversation_step_index" WHERE "checkpoint_ns" = '';
