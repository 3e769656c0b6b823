import { Prisma } from '../db/client';
import { plannedPerValues } from '../db/sql';
import type { TenantContext } from '../core/context';
import type { Message as MessageRow } from '../generated/prisma/client';
import type { MessageRole } from './message.type';

/**
 * A session's messages list, defined once: which messages it holds (as SQL over the alias `m`), oldest first by
 * `created_at`, then by id (the keyset). The page and the counts read messages through this module.
 */

/** The column the list sorts by (a column of `m`); it is never read newest first. */
export const MESSAGE_ORDER_COLUMN = 'created_at';

/** A message's position in the order (its `created_at` in ms), for pages served from messages already loaded. */
export function messageKeysetValue(row: MessageRow): number {
  return row.createdAt.getTime();
}

/**
 * The tenant's messages of one session, of one role when given, over the alias `m`; `session` is the session's key as
 * SQL (a parameter, or a column of a join that pages many sessions at once).
 */
export function messageListWhere(context: TenantContext, session: Prisma.Sql, role: MessageRole | null | undefined): Prisma.Sql {
  return Prisma.sql`m.tenant_id = ${context.viewer.tenantId} AND m.session_id = ${session}${
    role ? Prisma.sql` AND m.role = ${role}::message_role` : Prisma.empty
  }`;
}

/**
 * The text search configuration as an SQL literal. Written into the statement, not passed as a parameter, so that
 * `to_tsvector(<config>, m.content)` is the very expression of the messages' search index and the planner can use it;
 * the configuration is an identifier checked by src/config.ts.
 */
export function textSearchConfig(context: TenantContext): Prisma.Sql {
  return Prisma.raw(`'${context.config.search.textSearchConfig}'::regconfig`);
}

/** The text search configuration the stored document `messages.content_tsv` is generated with. */
export const STORED_DOCUMENT_CONFIG = 'simple';

/**
 * The document of message `m` for full-text search: in the stored document's configuration (the default), the column
 * `m.content_tsv`, which the index `messages_content_tsv_idx` holds (with the tenant) and which a row's test or rank
 * reads instead of parsing its content (docs/decisions/0016); in any other, the expression `to_tsvector(<config>,
 * m.content)`, which needs an index of its own (README, "Search").
 */
export function messageDocument(context: TenantContext): Prisma.Sql {
  return context.config.search.textSearchConfig === STORED_DOCUMENT_CONFIG
    ? Prisma.sql`m.content_tsv`
    : Prisma.sql`to_tsvector(${textSearchConfig(context)}, m.content)`;
}

/** A web-search query (`websearch_to_tsquery`: never a syntax error) in the configured text search configuration. */
export function webSearchQuery(context: TenantContext, text: string): Prisma.Sql {
  return Prisma.sql`websearch_to_tsquery(${textSearchConfig(context)}, ${text})`;
}

/** Message `m`'s content matches the web-search query `text`. */
export function messageMatches(context: TenantContext, text: string): Prisma.Sql {
  return plannedPerValues(Prisma.sql`${messageDocument(context)} @@ ${webSearchQuery(context, text)}`);
}
