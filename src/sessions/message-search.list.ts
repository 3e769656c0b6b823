import { Prisma } from '../db/client';
import { keysetValue, type KeysetPosition } from '../db/sql';
import { TIMESTAMP_AND_UUID, type CursorShape } from '../graphql/connection';
import type { TenantContext } from '../core/context';
import { equalsAnyOf } from '../db/sql';
import { messageDocument, messageMatches, webSearchQuery } from './message.list';
import { MessageSearchOrder, type MessageSearchFilter } from './message-search.inputs';
import { sessionMetadataContains } from './session.list';

/**
 * The message search list, defined once: which messages a query and filter select (as SQL over the messages `m`
 * joined to their sessions `s`), and what each order sorts by (then by message id, the keyset). Both orders read
 * newest or best first; RELEVANCE ranks the newest SEARCH_COUNT_LIMIT matches only (messageSearchWindow). The page and
 * its count read the list through this module.
 */

/**
 * The tables of the list for `filter`: the messages `m`, joined to their sessions `s` (same tenant, by the composite
 * foreign key) only when the filter reads a session's columns. Every message has its session, so the join selects
 * the same messages; without it, counting 100,000 matches does not also read and hash the tenant's 100,000 sessions.
 */
export function messageSearchFrom(filter: MessageSearchFilter | null | undefined): Prisma.Sql {
  return filter?.channel?.length || filter?.sessionStatus?.length || filter?.sessionMetadata
    ? Prisma.sql`messages m JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id`
    : Prisma.sql`messages m`;
}

/** The tenant's messages matching `query` that `filter` selects, over `m` and `s` (see messageSearchFrom). */
export function messageSearchWhere(context: TenantContext, query: string, filter: MessageSearchFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`m.tenant_id = ${context.viewer.tenantId}`, messageMatches(context, query)];
  if (filter?.role?.length) conditions.push(equalsAnyOf('m.role', filter.role, 'message_role'));
  if (filter?.channel?.length) conditions.push(Prisma.sql`s.channel = ANY(${filter.channel})`);
  if (filter?.sessionStatus?.length) conditions.push(equalsAnyOf('s.status', filter.sessionStatus, 'session_status'));
  if (filter?.createdAfter) conditions.push(Prisma.sql`m.created_at >= ${filter.createdAfter}`);
  if (filter?.createdBefore) conditions.push(Prisma.sql`m.created_at < ${filter.createdBefore}`);
  if (filter?.sessionMetadata) conditions.push(sessionMetadataContains(filter.sessionMetadata));
  return Prisma.join(conditions, ' AND ');
}

/** Relevance of message `m` for `query`: `ts_rank`, a float4 (real). */
export function messageRank(context: TenantContext, query: string): Prisma.Sql {
  return Prisma.sql`ts_rank(${messageDocument(context)}, ${webSearchQuery(context, query)})`;
}

/**
 * The window RELEVANCE ranks: the newest `size` matches (by `created_at`, then id, so the window is the same on every
 * page of a stable dataset), each with its `id`, `rank` and `place` (1 for the newest). Ranking every match read
 * every match for any page; the window bounds what a page reads, ranks and sorts by N matches (and, when the newest
 * rows are walked, the non-matching rows between them), as Elasticsearch's `track_total_hits` and GitHub's search cap
 * bound theirs (docs/decisions/0016).
 */
export function messageSearchWindow(
  context: TenantContext,
  query: string,
  filter: MessageSearchFilter | null | undefined,
  size: number,
): Prisma.Sql {
  // The place is numbered over the rows already in that order, so it costs no second sort.
  return Prisma.sql`
    SELECT newest.id, newest.rank, row_number() OVER (ORDER BY newest.created_at DESC, newest.id DESC) AS place
    FROM (
      SELECT m.id, m.created_at, ${messageRank(context, query)} AS rank
      FROM ${messageSearchFrom(filter)} WHERE ${messageSearchWhere(context, query, filter)}
      ORDER BY m.created_at DESC, m.id DESC LIMIT ${size}
    ) newest`;
}

// A rank as PostgreSQL writes a float4 as text (the shortest form that reads back as the same float4), e.g.
// "0.075990885" or "6.07927e-05". The cursor carries this text, and the seek casts it back to float4, so the
// position is exact; a JavaScript number would round it through a double.
const RANK_TEXT = /^(0|[1-9]\d{0,37})(\.\d{1,12})?(e[+-]?\d{1,2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Cursors of the RELEVANCE order: a rank as float4 text and a UUID. */
export const RANK_AND_UUID: CursorShape = {
  description: 'a rank and a UUID',
  isValid: ({ value, id }) => typeof value === 'string' && RANK_TEXT.test(value) && UUID.test(id),
};

/**
 * How each order sorts: the keyset's column and id (`sort`, `id`: over the messages `m` for NEWEST, over the window
 * `newest` for RELEVANCE, see messageSearchWindow), the page's rows `page` (`pageSort`), how a cursor's position becomes
 * an SQL value and what the cursor's position holds.
 */
export function messageSearchOrder(order: MessageSearchOrder) {
  return order === MessageSearchOrder.RELEVANCE
    ? {
        sort: Prisma.sql`newest.rank`,
        id: Prisma.sql`newest.id`,
        pageSort: Prisma.sql`page.rank`,
        seekValue: (seek: KeysetPosition) => Prisma.sql`${String(seek.value)}::float4`,
        cursorShape: RANK_AND_UUID,
      }
    : {
        sort: Prisma.sql`m.created_at`,
        id: Prisma.sql`m.id`,
        pageSort: Prisma.sql`page.created_at`,
        seekValue: (seek: KeysetPosition) => keysetValue('timestamptz', seek.value),
        cursorShape: TIMESTAMP_AND_UUID,
      };
}
