-- The words of each session's messages, so that the sessions `text` filter finds a session through one index entry
-- instead of testing its messages one by one (docs/decisions/0019). Prisma generates the table; the functions and
-- triggers that keep it, the backfill and the index are written by hand (Prisma can declare neither a trigger nor this
-- index: it reads btree_gin's default operator class as a change). The index is built after the backfill.

-- CreateTable
CREATE TABLE "session_search_documents" (
    "tenant_id" TEXT NOT NULL,
    "session_id" UUID NOT NULL,
    "document" tsvector NOT NULL,
    "overflow" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "session_search_documents_pkey" PRIMARY KEY ("tenant_id","session_id")
);

-- AddForeignKey
ALTER TABLE "session_search_documents" ADD CONSTRAINT "session_search_documents_tenant_id_session_id_fkey" FOREIGN KEY ("tenant_id", "session_id") REFERENCES "sessions"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Adds lexemes to their sessions' documents: the three arrays hold (tenant, session, lexeme), position by position. A
-- document is the distinct lexemes of its session's messages' stored documents (`messages.content_tsv`), without
-- positions. One that could pass 128 kB (the stored size, maybe compressed, plus every lexeme added: an estimate that
-- errs high; tsvector's own limit is 1 MB) becomes the marker lexeme `convoql overflow` alone, which no text search
-- parser produces (it holds a space), with `overflow` set: the session is then found by the marker and searched
-- through its messages.
CREATE FUNCTION "convoql_session_documents_add"(tenant_ids text[], session_ids uuid[], lexemes text[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO "session_search_documents" AS d ("tenant_id", "session_id", "document", "overflow")
  SELECT added.tenant_id, added.session_id,
    CASE WHEN added.bytes > 131072 THEN '''convoql overflow'''::tsvector ELSE array_to_tsvector(added.lexemes) END,
    added.bytes > 131072
  FROM (
    SELECT tenant_id, session_id, array_agg(lexeme) AS lexemes, sum(octet_length(lexeme) + 4) AS bytes
    FROM (SELECT DISTINCT * FROM unnest(tenant_ids, session_ids, lexemes) AS t(tenant_id, session_id, lexeme)) pair
    GROUP BY tenant_id, session_id
  ) added
  -- In key order, so that concurrent writers lock the documents they share in one order and never deadlock.
  ORDER BY added.tenant_id, added.session_id
  ON CONFLICT ("tenant_id", "session_id") DO UPDATE SET
    "overflow" = d."overflow" OR EXCLUDED."overflow"
      OR pg_column_size(d."document") + pg_column_size(EXCLUDED."document") > 131072,
    "document" = CASE
      WHEN d."overflow" OR EXCLUDED."overflow" OR pg_column_size(d."document") + pg_column_size(EXCLUDED."document") > 131072
        THEN '''convoql overflow'''::tsvector
      ELSE d."document" || EXCLUDED."document" END
$$;

-- Messages inserted: their lexemes join their sessions' documents, in one statement whatever the number of rows.
CREATE FUNCTION "convoql_session_documents_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "convoql_session_documents_add"(pairs.tenant_ids, pairs.session_ids, pairs.lexemes)
  FROM (SELECT array_agg(n."tenant_id") AS tenant_ids, array_agg(n."session_id") AS session_ids, array_agg(l.lexeme) AS lexemes
        FROM convoql_new_messages n CROSS JOIN unnest(n."content_tsv") l) pairs
  WHERE pairs.session_ids IS NOT NULL;
  RETURN NULL;
END $$;

-- The words of the given sessions' messages (`tenant_ids` and `session_ids` pair position by position) added to their
-- documents, one session at a time, so that no array holds more than one session's words: a statement over all of a
-- large table's messages would build arrays past PostgreSQL's limits (and its memory).
CREATE FUNCTION "convoql_session_documents_add_messages"(tenant_ids text[], session_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "convoql_session_documents_add"(words.tenant_ids, words.session_ids, words.lexemes)
  FROM unnest(tenant_ids, session_ids) c(tenant_id, session_id)
  CROSS JOIN LATERAL (
    SELECT array_agg(m."tenant_id") AS tenant_ids, array_agg(m."session_id") AS session_ids, array_agg(l.lexeme) AS lexemes
    FROM "messages" m CROSS JOIN unnest(m."content_tsv") l
    WHERE m."tenant_id" = c.tenant_id AND m."session_id" = c.session_id
  ) words
  WHERE words.session_ids IS NOT NULL;
END $$;

-- Messages updated (their content, or moved to another session) or deleted: the documents of the sessions concerned
-- are built again from those sessions' messages. convoql never updates or deletes a message; SQL by hand may.
CREATE FUNCTION "convoql_session_documents_rebuild"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  tenant_ids text[];
  session_ids uuid[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(c.tenant_id), array_agg(c.session_id) INTO tenant_ids, session_ids
    FROM (SELECT DISTINCT o."tenant_id", o."session_id" FROM convoql_old_messages o) c(tenant_id, session_id);
  ELSE
    SELECT array_agg(c.tenant_id), array_agg(c.session_id) INTO tenant_ids, session_ids
    FROM (
      SELECT DISTINCT concerned.tenant_id, concerned.session_id
      FROM convoql_old_messages o JOIN convoql_new_messages n ON n."id" = o."id"
      CROSS JOIN LATERAL (VALUES (o."tenant_id", o."session_id"), (n."tenant_id", n."session_id")) concerned(tenant_id, session_id)
      WHERE o."content_tsv" IS DISTINCT FROM n."content_tsv" OR o."session_id" <> n."session_id" OR o."tenant_id" <> n."tenant_id"
    ) c(tenant_id, session_id);
  END IF;
  IF session_ids IS NULL THEN RETURN NULL; END IF;
  DELETE FROM "session_search_documents" d USING unnest(tenant_ids, session_ids) c(tenant_id, session_id)
  WHERE d."tenant_id" = c.tenant_id AND d."session_id" = c.session_id;
  PERFORM "convoql_session_documents_add_messages"(tenant_ids, session_ids);
  RETURN NULL;
END $$;

CREATE TRIGGER "session_search_documents_insert" AFTER INSERT ON "messages"
  REFERENCING NEW TABLE AS convoql_new_messages FOR EACH STATEMENT EXECUTE FUNCTION "convoql_session_documents_insert"();
CREATE TRIGGER "session_search_documents_update" AFTER UPDATE ON "messages"
  REFERENCING OLD TABLE AS convoql_old_messages NEW TABLE AS convoql_new_messages
  FOR EACH STATEMENT EXECUTE FUNCTION "convoql_session_documents_rebuild"();
CREATE TRIGGER "session_search_documents_delete" AFTER DELETE ON "messages"
  REFERENCING OLD TABLE AS convoql_old_messages FOR EACH STATEMENT EXECUTE FUNCTION "convoql_session_documents_rebuild"();

-- Messages truncated: no session has a word left.
CREATE FUNCTION "convoql_session_documents_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "session_search_documents";
  RETURN NULL;
END $$;

CREATE TRIGGER "session_search_documents_truncate" AFTER TRUNCATE ON "messages"
  FOR EACH STATEMENT EXECUTE FUNCTION "convoql_session_documents_truncate"();

-- The documents of the sessions that already have messages, a session at a time.
SELECT "convoql_session_documents_add_messages"(array_agg("tenant_id"), array_agg("id")) FROM "sessions";

-- The sessions text filter's query of a session document: what any message that matches `query` must contain (its
-- positive part, `querytree`), or the marker of an overflowed document. A query with a phrase (`<`; a document has no
-- positions, and a lexeme that holds `<` errs on the safe side) or with nothing positive (an exclusion alone) narrows
-- nothing: it matches every document.
CREATE FUNCTION "convoql_session_document_query"(query tsquery) RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN querytree(query) = 'T' OR strpos(query::text, '<') > 0 THEN '!''convoql overflow'' | ''convoql overflow'''::tsquery
    ELSE querytree(query)::tsquery || '''convoql overflow'''::tsquery END
$$;

-- Whether a session document that matches `query` proves that one of the session's messages does: the query is one
-- lexeme or lexemes joined by `|` (no `&`, `!` or phrase; a lexeme that holds one of those characters errs on the safe
-- side). Otherwise the session's messages are tested.
CREATE FUNCTION "convoql_session_document_query_is_exact"(query tsquery) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT query::text <> '' AND query::text !~ '[&!<]'
$$;

-- Whether one of the session's messages matches `query` (their stored documents): the test of an overflowed session
-- when the document would prove the match for any other. A PL/pgSQL function, which the planner does not inline, priced
-- as cheap: it runs only for the rare overflowed session, and written inline as EXISTS it was priced for every
-- candidate, which turned the page's walk of the newest sessions into a hash join over all of the tenant's.
CREATE FUNCTION "convoql_session_message_matches"(tenant text, session uuid, query tsquery) RETURNS boolean
  LANGUAGE plpgsql STABLE PARALLEL SAFE COST 1 AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM "messages" m WHERE m."tenant_id" = tenant AND m."session_id" = session AND m."content_tsv" @@ query);
END $$;

-- CreateIndex
CREATE INDEX "session_search_documents_document_idx" ON "session_search_documents" USING GIN ("tenant_id" text_ops, "document");
