import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { NonNegativeIntResolver } from 'graphql-scalars';
import { BadUserInputError } from './errors';
import type { BoundedCount, KeysetPage, KeysetPosition } from '../db/sql';

/** Page size when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 20;
/** Largest page a client may ask for. */
export const MAX_PAGE_SIZE = 100;

/** Relay pagination arguments shared by every connection field. */
@ArgsType()
export class ConnectionArgs {
  @Field(() => Int, {
    nullable: true,
    description: `Return the first n items after \`after\` (1–${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}).`,
  })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the item to start after (from `endCursor` or an edge).' })
  after?: string | null;

  @Field(() => Int, { nullable: true, description: `Return the last n items before \`before\` (1–${MAX_PAGE_SIZE}).` })
  last?: number | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the item to end before (from `startCursor` or an edge).' })
  before?: string | null;
}

/** Relay page information. */
@ObjectType({ simpleResolvers: true, description: 'Where a page sits in its list, and cursors to move from it.' })
export class PageInfo {
  @Field({ description: 'True when more items follow this page.' })
  hasNextPage!: boolean;

  @Field({ description: 'True when items precede this page.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first item of the page; null for an empty page.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item of the page; null for an empty page.' })
  endCursor!: string | null;
}

/** What a connection object holds; `totalCount` is a getter so the count runs only when selected. */
export interface ConnectionValue<TNode> {
  edges: { cursor: string; node: TNode }[];
  nodes: TNode[];
  pageInfo: PageInfo;
  readonly totalCount: Promise<number>;
}

/** Builds `<Node>Connection`'s base class with its `<Node>Edge` type; extend it with an @ObjectType. */
export function Connection<TNode extends object>(NodeClass: ClassType<TNode>, nodeDescription: string) {
  @ObjectType(`${NodeClass.name}Edge`, { simpleResolvers: true, description: `An edge to one ${nodeDescription} in a list.` })
  class Edge {
    @Field({ description: 'Opaque cursor of this item; pass it as `after` or `before`.' })
    cursor!: string;

    @Field(() => NodeClass, { description: `The ${nodeDescription}.` })
    node!: TNode;
  }

  @ObjectType({ simpleResolvers: true, description: `A page of ${nodeDescription}s.` })
  abstract class ConnectionBase {
    /** The list's edge type, for a field that returns single edges (a subscription, say). */
    static readonly Edge = Edge;

    @Field(() => [Edge], { description: 'The items of this page with their cursors.' })
    edges!: Edge[];

    @Field(() => [NodeClass], { description: 'The items of this page, without cursors.' })
    nodes!: TNode[];

    @Field(() => PageInfo, { description: 'How to get the neighbouring pages.' })
    pageInfo!: PageInfo;

    // Not simple: its value is a promise, which only a field with a resolver may hold under compiled execution.
    @Field(() => NonNegativeIntResolver, {
      simple: false,
      description: 'Number of items in the whole list with the same filters (counted only when selected).',
    })
    totalCount!: Promise<number>;
  }
  return ConnectionBase;
}

export type { KeysetPage, KeysetPosition };

/** What the positions of a list's cursors hold; checked when a cursor is decoded, so a forged one never reaches SQL. */
export interface CursorShape {
  /** What the sort value is, for messages: "a timestamp". */
  readonly description: string;
  isValid(position: KeysetPosition): boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Cursors of lists ordered by a timestamp (as `Date.toISOString()` writes it) with a UUID breaking ties. */
export const TIMESTAMP_AND_UUID: CursorShape = {
  description: 'a timestamp and a UUID',
  isValid: ({ value, id }) =>
    typeof value === 'string' && ISO_TIMESTAMP.test(value) && new Date(value).toISOString() === value && UUID.test(id),
};

/** Decimal strings as PostgreSQL writes a `numeric(18, 8)` (e.g. "0.01234500"), compared as numeric in SQL. */
const DECIMAL = /^-?\d{1,10}(\.\d{1,8})?$/;

/** Cursors of lists ordered by an exact decimal, carried as its decimal string so it round-trips exactly, with a UUID breaking ties. */
export const DECIMAL_AND_UUID: CursorShape = {
  description: 'a decimal string and a UUID',
  isValid: ({ value, id }) => typeof value === 'string' && DECIMAL.test(value) && UUID.test(id),
};

/** Cursors of lists ordered by an integer (a JSON number within JavaScript's safe integers) with a UUID breaking ties. */
export const INTEGER_AND_UUID: CursorShape = {
  description: 'an integer and a UUID',
  isValid: ({ value, id }) => typeof value === 'number' && Number.isSafeInteger(value) && UUID.test(id),
};

/** Validates Relay arguments and decodes the cursor of a list whose cursors carry `listKey` and positions of `shape`. */
export function toKeysetPage(args: ConnectionArgs, listKey: string, shape: CursorShape = TIMESTAMP_AND_UUID): KeysetPage {
  const { first, last, after, before } = args;
  if (first != null && last != null) {
    throw new BadUserInputError('Pass either `first` or `last`, not both.', 'first');
  }
  if (after != null && before != null) {
    throw new BadUserInputError('Pass either `after` or `before`, not both.', 'after');
  }
  if ((first != null && before != null) || (last != null && after != null)) {
    throw new BadUserInputError(
      'Use `first` with `after` to page forward, or `last` with `before` to page backward.',
      first != null ? 'first' : 'last',
    );
  }
  for (const [name, size] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (size != null && (size < 1 || size > MAX_PAGE_SIZE)) {
      throw new BadUserInputError(`\`${name}\` must be between 1 and ${MAX_PAGE_SIZE}, received ${size}.`, name);
    }
  }
  const backward = last != null || before != null;
  const cursor = backward ? before : after;
  return {
    limit: first ?? last ?? DEFAULT_PAGE_SIZE,
    backward,
    seek: cursor == null ? null : decodeCursor(cursor, listKey, shape, backward ? 'before' : 'after'),
  };
}

/** Encodes an opaque cursor for a position in the list identified by `listKey`. */
export function encodeCursor(listKey: string, position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([listKey, position.value, position.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, listKey: string, shape: CursorShape, argument: string): KeysetPosition {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]{1,500}$/.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[2] !== 'string' || !['string', 'number'].includes(typeof parsed[1])) {
    throw new BadUserInputError(`\`${argument}\` is not a valid cursor; pass a cursor returned by this list.`, argument);
  }
  if (parsed[0] !== listKey) {
    throw new BadUserInputError(
      `\`${argument}\` is a cursor of another list or order; pass a cursor returned by this list with the same orderBy.`,
      argument,
    );
  }
  const position = { value: parsed[1] as string | number, id: parsed[2] };
  if (!shape.isValid(position)) {
    throw new BadUserInputError(
      `\`${argument}\` is not a valid cursor of this list (its position must hold ${shape.description}); pass a cursor returned by this list.`,
      argument,
    );
  }
  return position;
}

/** Turns the `limit + 1` rows fetched for a page into a connection value. */
export function toConnection<TRow, TNode>(
  rows: readonly TRow[],
  page: KeysetPage,
  listKey: string,
  positionOf: (row: TRow) => KeysetPosition,
  toNode: (row: TRow) => TNode,
  totalCount: () => Promise<number>,
): ConnectionValue<TNode> {
  const hasMore = rows.length > page.limit;
  const pageRows = rows.slice(0, page.limit);
  if (page.backward) pageRows.reverse();
  const nodes = pageRows.map(toNode);
  const cursorOf = (row: TRow) => encodeCursor(listKey, positionOf(row));
  // Cursors are made only when the operation reads the edges (a table of nodes needs only the page's two ends).
  let edges: { cursor: string; node: TNode }[] | undefined;
  let counted: Promise<number> | undefined;
  return {
    get edges() {
      return (edges ??= pageRows.map((row, index) => ({ cursor: cursorOf(row), node: nodes[index]! })));
    },
    nodes,
    pageInfo: {
      // Relay lets the side we did not read report whether a cursor was given, which is true for any valid cursor.
      hasNextPage: page.backward ? page.seek !== null : hasMore,
      hasPreviousPage: page.backward ? hasMore : page.seek !== null,
      startCursor: pageRows.length > 0 ? cursorOf(pageRows[0]!) : null,
      endCursor: pageRows.length > 0 ? cursorOf(pageRows.at(-1)!) : null,
    },
    get totalCount() {
      return (counted ??= totalCount());
    },
  };
}

/** A connection whose `totalCount` stops at a limit, with `totalCountIsExact` saying whether it stopped. */
export type BoundedConnectionValue<TNode> = ConnectionValue<TNode> & { readonly totalCountIsExact: Promise<boolean> };

/** {@link toConnection} for a list counted up to a limit; `count` runs once, when `totalCount` or `totalCountIsExact` is read. */
export function toBoundedConnection<TRow, TNode>(
  rows: readonly TRow[],
  page: KeysetPage,
  listKey: string,
  positionOf: (row: TRow) => KeysetPosition,
  toNode: (row: TRow) => TNode,
  count: () => Promise<BoundedCount>,
): BoundedConnectionValue<TNode> {
  let counted: Promise<BoundedCount> | undefined;
  const once = () => (counted ??= count());
  const connection = toConnection(rows, page, listKey, positionOf, toNode, () => once().then((bounded) => bounded.count));
  return Object.defineProperty(connection, 'totalCountIsExact', {
    enumerable: true,
    get: () => once().then((bounded) => bounded.exact),
  }) as BoundedConnectionValue<TNode>;
}

/**
 * The rows {@link keysetSql} would read (`page.limit + 1`, in read order) from rows already loaded in ascending
 * (value, id) order; ids compare as PostgreSQL compares canonical lower-case UUIDs.
 */
export function keysetPageInMemory<T>(
  ascending: readonly T[],
  page: KeysetPage,
  valueOf: (row: T) => number,
  idOf: (row: T) => string,
): T[] {
  const seek = page.seek;
  const seekValue = seek === null ? 0 : typeof seek.value === 'number' ? seek.value : Date.parse(seek.value);
  if (Number.isNaN(seekValue))
    throw new BadUserInputError('The cursor is not a valid cursor of this list.', page.backward ? 'before' : 'after');
  // How far a row is past the seek position in the read direction: positive rows belong to the page.
  const pastSeek = (row: T) => {
    if (seek === null) return 1;
    const difference = valueOf(row) - seekValue;
    const step = difference !== 0 ? difference : idOf(row) < seek.id ? -1 : idOf(row) > seek.id ? 1 : 0;
    return page.backward ? -step : step;
  };
  const rows: T[] = [];
  const ordered = page.backward ? [...ascending].reverse() : ascending;
  for (const row of ordered) {
    if (pastSeek(row) <= 0) continue;
    rows.push(row);
    if (rows.length > page.limit) break;
  }
  return rows;
}
