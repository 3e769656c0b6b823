-- CreateIndex
CREATE INDEX "sessions_metadata_idx" ON "sessions" USING GIN ("metadata" jsonb_path_ops);

-- Full-text search over message content (the sessions `text` filter and `searchMessages`). Prisma cannot declare an
-- expression index, so it is written here by hand; the queries use exactly this expression, with the configuration
-- from TEXT_SEARCH_CONFIG (default 'simple'). Another configuration needs its own index with its name in place of
-- 'simple' (README, "Search").
CREATE INDEX "messages_content_search_idx" ON "messages" USING GIN (to_tsvector('simple'::regconfig, "content"));
