// Keyset pagination for the baseline's hand-written SQL: the same order, seek condition and page
// info as convoql's connection helper (src/graphql/connection.ts), without Prisma.
import { decodeCursor, encodeCursor, type KeysetPosition } from './encoding';

/** Relay arguments as the dashboard operations send them. */
export interface PageArguments {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** A validated page request. */
export interface PageRequest {
  limit: number;
  backward: boolean;
  seek: KeysetPosition | null;
}

const DEFAULT_PAGE_SIZE = 20;

/** Reads the Relay arguments; throws a message for the client on a bad cursor. */
export function pageRequest(args: PageArguments, listKey: string): PageRequest {
  const backward = args.last != null || args.before != null;
  const cursor = backward ? args.before : args.after;
  const seek = cursor == null ? null : decodeCursor(cursor, listKey);
  if (cursor != null && seek === null) throw new Error(`not a cursor of ${listKey}`);
  return { limit: args.first ?? args.last ?? DEFAULT_PAGE_SIZE, backward, seek };
}

/** ORDER BY and the seek condition over (column, id), with the redundant bound that makes it an index condition. */
export function keysetSql(column: string, descending: boolean, page: PageRequest, params: unknown[]): { where: string; orderBy: string } {
  const readDescending = descending !== page.backward;
  const direction = readDescending ? 'DESC' : 'ASC';
  const orderBy = `${column} ${direction}, id ${direction}`;
  if (!page.seek) return { where: 'TRUE', orderBy };
  params.push(page.seek.value, page.seek.id);
  const value = `$${params.length - 1}::timestamptz`;
  const id = `$${params.length}::uuid`;
  const [bound, strict] = readDescending ? ['<=', '<'] : ['>=', '>'];
  return {
    where: `${column} ${bound} ${value} AND (${column} ${strict} ${value} OR (${column} = ${value} AND id ${strict} ${id}))`,
    orderBy,
  };
}

/** Edges and page info from the `limit + 1` rows read, as convoql's toConnection builds them. */
export function connectionOf<Row, Node>(
  rows: Row[],
  page: PageRequest,
  listKey: string,
  positionOf: (row: Row) => KeysetPosition,
  toNode: (row: Row) => Node,
) {
  const hasMore = rows.length > page.limit;
  const pageRows = rows.slice(0, page.limit);
  if (page.backward) pageRows.reverse();
  const edges = pageRows.map((row) => ({ cursor: encodeCursor(listKey, positionOf(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.backward ? page.seek !== null : hasMore,
      hasPreviousPage: page.backward ? hasMore : page.seek !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
