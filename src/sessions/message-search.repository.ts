import { Prisma } from '../db/client';
import { boundedCount, keysetSql, readsDescending, type BoundedCount, type KeysetPage } from '../db/sql';
import type { Message as MessageRow } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { textSearchConfig, webSearchQuery } from './message.list';
import { MessageSearchOrder, type MessageSearchFilter } from './message-search.inputs';
import { messageSearchFrom, messageSearchOrder, messageSearchWhere, messageSearchWindow } from './message-search.list';
import { fromRawMessage, type RawMessage } from './session.repository';

/** A search hit as the repository reads it: the message, its rank (float4 text) and its highlight (see HIGHLIGHT_OPTIONS). */
export interface MessageSearchRow {
  message: MessageRow;
  rank: string | null;
  highlight: string;
}

/** Marks a matched word's start and end in a raw highlight; removed from the content first, so only ts_headline writes them. */
export const HIGHLIGHT_START = '\u0002';
export const HIGHLIGHT_STOP = '\u0003';
// One excerpt of 15–35 words around the best match (a shorter message whole); HTML-escaped and bounded in message-search.type.ts.
const HIGHLIGHT_OPTIONS = `StartSel="${HIGHLIGHT_START}", StopSel="${HIGHLIGHT_STOP}", MaxWords=35, MinWords=15`;

/**
 * One page of the tenant's messages matching `query` (`page.limit + 1` rows, in read order) with, when asked, the
 * number of matching messages up to the search's limit (SEARCH_COUNT_LIMIT), in ONE statement. Highlights are computed
 * for the page's rows only.
 *
 * NEWEST reads the page and the total separately: the page either walks the tenant's messages newest first and tests
 * each stored document (a common word) or takes the index's matches and sorts them (a rare one), whichever the planner
 * prices lower, and the count stops at `limit + 1` matches. RELEVANCE ranks the newest `limit` matches (its window, see
 * messageSearchWindow): read once (`newest`, their id, rank and place), for the page and for the count alike. Neither
 * visits more than `limit + 1` matching rows for the count: an exact count of a common word visited the heap page of
 * every match (docs/decisions/0016).
 */
export async function searchMessagePage(
  context: TenantContext,
  query: string,
  filter: MessageSearchFilter | null | undefined,
  order: MessageSearchOrder,
  page: KeysetPage,
  total: boolean,
): Promise<{ rows: MessageSearchRow[]; total: BoundedCount | null }> {
  const limit = context.config.search.countLimit;
  const where = messageSearchWhere(context, query, filter);
  const from = messageSearchFrom(filter);
  const sort = messageSearchOrder(order);
  const keyset = keysetSql(sort.sort, sort.id, true, page, page.seek && sort.seekValue(page.seek));
  const direction = Prisma.raw(readsDescending(true, page) ? 'DESC' : 'ASC');
  const messageColumns = Prisma.sql`m.id, m.tenant_id, m.session_id, m.role, m.content, m.created_at, m.metadata, m.client_message_id`;
  let pageSql: Prisma.Sql;
  let count: Prisma.Sql;
  if (order === MessageSearchOrder.RELEVANCE) {
    pageSql = Prisma.sql`
      WITH newest AS MATERIALIZED (${messageSearchWindow(context, query, filter, limit + 1)}),
      ranked AS (
        SELECT newest.id, newest.rank FROM newest
        WHERE newest.place <= ${limit} AND ${keyset.where}
        ORDER BY ${keyset.orderBy} LIMIT ${page.limit + 1}
      ),
      page AS (
        SELECT ${messageColumns}, ranked.rank FROM ranked
        JOIN messages m ON m.id = ranked.id AND m.tenant_id = ${context.viewer.tenantId}
      )`;
    count = Prisma.sql`SELECT count(*)::int AS n FROM newest`;
  } else {
    pageSql = Prisma.sql`
      WITH page AS (
        SELECT ${messageColumns}, NULL::real AS rank
        FROM ${from}
        WHERE ${where} AND ${keyset.where}
        ORDER BY ${keyset.orderBy}
        LIMIT ${page.limit + 1}
      )`;
    count = boundedCountSql(from, where, limit);
  }
  const content = Prisma.sql`translate(page.content, ${HIGHLIGHT_START + HIGHLIGHT_STOP}, '')`;
  const columns = Prisma.sql`page.id, page.tenant_id, page.session_id, page.role, page.content, page.created_at, page.metadata,
    page.client_message_id, page.rank::text AS rank,
    ts_headline(${textSearchConfig(context)}, ${content}, ${webSearchQuery(context, query)}, ${HIGHLIGHT_OPTIONS}) AS highlight`;
  const orderBy = Prisma.sql`ORDER BY ${sort.pageSort} ${direction}, page.id ${direction}`;
  // The count rides on every row (one row of nulls when the page is empty), as in selectPage.
  const rows = await context.db.queryRows<RawMessage & { rank: string | null; highlight: string; total?: number }>(
    total
      ? Prisma.sql`${pageSql} SELECT ${columns}, total.n AS total FROM (${count}) total LEFT JOIN page ON TRUE ${orderBy}`
      : Prisma.sql`${pageSql} SELECT ${columns} FROM page ${orderBy}`,
  );
  return {
    rows: rows.filter((row) => row.id !== null).map((row) => ({ message: fromRawMessage(row), rank: row.rank, highlight: row.highlight })),
    total: total ? boundedCount(rows[0]?.total ?? 0, limit) : null,
  };
}

/** `count(*)` as `n` of at most `limit + 1` rows of `from` where `where` holds, whichever rows the plan finds first. */
function boundedCountSql(from: Prisma.Sql, where: Prisma.Sql, limit: number): Prisma.Sql {
  return Prisma.sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${from} WHERE ${where} LIMIT ${limit + 1}) matches`;
}

/** Number of the tenant's messages matching `query` that `filter` selects, up to SEARCH_COUNT_LIMIT. */
export async function countSearchMessages(
  context: TenantContext,
  query: string,
  filter: MessageSearchFilter | null | undefined,
): Promise<BoundedCount> {
  const limit = context.config.search.countLimit;
  const [row] = await context.db.queryRows<{ n: number }>(
    boundedCountSql(messageSearchFrom(filter), messageSearchWhere(context, query, filter), limit),
  );
  return boundedCount(row!.n, limit);
}
