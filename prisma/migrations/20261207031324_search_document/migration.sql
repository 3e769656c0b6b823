-- Full-text search reads a stored document and an index that holds the tenant (docs/decisions/0016). Prisma generates
-- the extension and the column; the backfill, the trigger that keeps the column and the index are written by hand
-- (Prisma can declare neither a trigger nor this index: it reads btree_gin's default operator class as a change).

-- CreateExtension: GIN operator classes for scalar types such as text, so the tenant can be a column of a GIN index.
CREATE EXTENSION IF NOT EXISTS "btree_gin";

-- AlterTable: the document of every existing message, filled by ONE rewrite of the table: added as a generated
-- column, then made a plain column that keeps its values (an UPDATE of every row would leave as many dead rows).
ALTER TABLE "messages" ADD COLUMN "content_tsv" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "content")) STORED;
ALTER TABLE "messages" ALTER COLUMN "content_tsv" DROP EXPRESSION;

-- The document of every message written later, in the configuration of TEXT_SEARCH_CONFIG's default, 'simple'
-- (another configuration searches the expression instead: README, "Search"). A plain column and a trigger rather
-- than a generated column, which Prisma cannot declare (it would create a column without its expression).
CREATE FUNCTION convoql_message_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.content_tsv := to_tsvector('simple'::regconfig, NEW.content);
  RETURN NEW;
END $$;

CREATE TRIGGER messages_document BEFORE INSERT OR UPDATE OF "content", "content_tsv" ON "messages"
  FOR EACH ROW EXECUTE FUNCTION convoql_message_document();

-- The expression index is replaced by one over the stored document, the tenant first: a search no longer reads, and
-- drops, the other tenants' matches.
DROP INDEX "messages_content_search_idx";
CREATE INDEX "messages_content_tsv_idx" ON "messages" USING GIN ("tenant_id" text_ops, "content_tsv");
