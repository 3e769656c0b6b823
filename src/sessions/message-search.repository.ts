import { Prisma } from '../db/client';
import { parseJsonRows } from '../db/json-rows';
import { keysetSql, readsDescending, type KeysetPage } from '../db/sql';
import type { Message as MessageRow } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { textSearchConfig, webSearchQuery } from './message.list';
import type { MessageSearchFilter, MessageSearchOrder } from './message-search.inputs';
import { MESSAGE_SEARCH_FROM, messageSearchOrder, messageSearchWhere } from './message-search.list';
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
 * number of all matching messages, in ONE statement. Highlights are computed for the page's rows only.
 */
export async function searchMessagePage(
  context: TenantContext,
  query: string,
  filter: MessageSearchFilter | null | undefined,
  order: MessageSearchOrder,
  page: KeysetPage,
  total: boolean,
): Promise<{ rows: MessageSearchRow[]; total: number | null }> {
  const where = messageSearchWhere(context, query, filter);
  const sort = messageSearchOrder(context, query, order);
  // Both orders read best or newest first.
  const keyset = keysetSql(sort.sort, Prisma.sql`m.id`, true, page, page.seek && sort.seekValue(page.seek));
  const direction = Prisma.raw(readsDescending(true, page) ? 'DESC' : 'ASC');
  const content = Prisma.sql`translate(page.content, ${HIGHLIGHT_START + HIGHLIGHT_STOP}, '')`;
  const [result] = await context.db.queryRows<{ page: string; total: number | null }>(Prisma.sql`
    WITH page AS (
      SELECT m.id, m.tenant_id, m.session_id, m.role, m.content, m.created_at, m.metadata, m.client_message_id, ${sort.rank} AS rank
      FROM ${MESSAGE_SEARCH_FROM}
      WHERE ${where} AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      LIMIT ${page.limit + 1}
    )
    SELECT (
      SELECT coalesce(json_agg(json_build_object(
        'message', json_build_object('id', page.id, 'tenant_id', page.tenant_id, 'session_id', page.session_id, 'role', page.role,
          'content', page.content, 'created_at', page.created_at, 'metadata', page.metadata, 'client_message_id', page.client_message_id),
        'rank', page.rank::text,
        'highlight', ts_headline(${textSearchConfig(context)}, ${content}, ${webSearchQuery(context, query)}, ${HIGHLIGHT_OPTIONS})
      ) ORDER BY ${sort.pageSort} ${direction}, page.id ${direction}), '[]')::text
      FROM page
    ) AS page, ${total ? Prisma.sql`(SELECT count(*)::int FROM ${MESSAGE_SEARCH_FROM} WHERE ${where})` : Prisma.sql`NULL::int`} AS total`);
  const rows = parseJsonRows<{ message: RawMessage; rank: string | null; highlight: string }>(result!.page);
  return {
    rows: rows.map((row) => ({ message: fromRawMessage(row.message), rank: row.rank, highlight: row.highlight })),
    total: result!.total,
  };
}

/** Number of the tenant's messages matching `query` that `filter` selects. */
export async function countSearchMessages(
  context: TenantContext,
  query: string,
  filter: MessageSearchFilter | null | undefined,
): Promise<number> {
  const [row] = await context.db.queryRows<{ count: number }>(
    Prisma.sql`SELECT count(*)::int AS count FROM ${MESSAGE_SEARCH_FROM} WHERE ${messageSearchWhere(context, query, filter)}`,
  );
  return row!.count;
}
