import { PLANNED_PER_VALUES, Prisma, type Database } from './client';

/**
 * `condition`, marked so that a statement holding it is planned for its values on every execution instead of reusing
 * a generic plan (see PLANNED_PER_VALUES): for the conditions whose selectivity spans orders of magnitude with their
 * values (a full-text match, a containment), where the best plan for a rare value (read the index's matches) and for
 * a common one (walk the order's index and test each row) differ. Planning costs a fraction of a millisecond; a wrong
 * plan cost 340 ms.
 */
export function plannedPerValues(condition: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`${Prisma.raw(PLANNED_PER_VALUES)} ${condition}`;
}

/**
 * `LIMIT` of a page, `page.limit + 1` rows, written into the statement's text rather than passed as a parameter. With
 * `LIMIT $n` PostgreSQL's generic plan cannot know the page is small, so it looks costlier than every custom plan and
 * a named statement is planned anew on each execution: for the conversations table that was 190 µs of its backend's
 * 450 µs. A page size is at most MAX_PAGE_SIZE, so a list has at most that many texts per shape (dashboards use a few).
 */
export function pageLimit(page: KeysetPage): Prisma.Sql {
  const rows = page.limit + 1;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`Expected a positive page size, received ${page.limit}.`);
  return Prisma.raw(`LIMIT ${rows}`);
}

/** A position in a keyset order: the sort value and the id that breaks ties. */
export interface KeysetPosition {
  value: string | number;
  id: string;
}

/** What a repository needs to fetch one page in keyset order. */
export interface KeysetPage {
  /** Rows wanted; fetch `limit + 1` to learn whether more follow. */
  limit: number;
  /** Whether to read the order backwards (for `last`/`before`); the caller's order flips. */
  backward: boolean;
  /** Start strictly after this position (in the read direction), or from the start. */
  seek: KeysetPosition | null;
}

/**
 * The SQL type of a keyset order column, which says how a cursor's sort value is compared: a timestamp (an ISO-8601
 * string in the cursor), an exact decimal (a decimal string, so no digit is lost to floating point) or an integer.
 */
export type KeysetColumnType = 'timestamptz' | 'numeric' | 'bigint' | 'integer';

/** A cursor's sort value as a SQL value of the order column's type; the value was checked by the cursor's shape. */
export function keysetValue(type: KeysetColumnType, value: string | number): Prisma.Sql {
  return type === 'timestamptz' ? Prisma.sql`${new Date(value)}` : Prisma.sql`${String(value)}::${Prisma.raw(type)}`;
}

/** Whether a page of a list in this order is read in descending order (a backward page reads the order reversed). */
export function readsDescending(descending: boolean, page: KeysetPage): boolean {
  return descending !== page.backward;
}

/**
 * The keyset seek over (column, id) read in the page's direction: `column` and `id` must be trusted identifiers (never
 * user input), and `value` the seek value as SQL of the column's type (see {@link keysetValue}).
 *
 * The seek is one row comparison, `(column, id) < (value, id)`: an index on (…, column, id) takes it whole as its
 * condition, and the planner estimates it by the column's statistics alone. The equivalent `column <= value AND
 * (column < value OR (column = value AND id < …))` was estimated as the product of its two halves (a tenth of a list
 * 90 % deep read as a hundredth), so for a filter it expected a handful of rows and sorted the whole remaining range
 * instead of reading it in order: a deep filtered page took twice its first page (docs/performance.md, "Search").
 */
export function keysetSql(column: Prisma.Sql, id: Prisma.Sql, descending: boolean, page: KeysetPage, value: Prisma.Sql | null) {
  const before = readsDescending(descending, page);
  const direction = Prisma.raw(before ? 'DESC' : 'ASC');
  const orderBy = Prisma.sql`${column} ${direction}, ${id} ${direction}`;
  if (!page.seek) return { where: Prisma.sql`TRUE`, orderBy };
  const strict = Prisma.raw(before ? '<' : '>');
  return { where: Prisma.sql`(${column}, ${id}) ${strict} (${value}, ${page.seek.id}::uuid)`, orderBy };
}

/**
 * A count that stops at a limit: `count` is the number of rows up to `limit`, and `exact` is false when more rows than
 * `limit` exist (then `count` is `limit`, a lower bound).
 */
export interface BoundedCount {
  count: number;
  exact: boolean;
}

/** The BoundedCount of `rows` rows read by a statement that asked for at most `limit + 1`. */
export function boundedCount(rows: number, limit: number): BoundedCount {
  return { count: Math.min(rows, limit), exact: rows <= limit };
}

/**
 * `column` equal to one of `values` of PostgreSQL type `type` (an enum, uuid…); `type` and `column` must be trusted
 * identifiers. One value is compared with `=`: PostgreSQL before 17 reads an index in order only under equality, so
 * with ANY a filtered page scans and filters the newest rows of every value (4.4 ms for a CLOSED sessions page of the
 * benchmark) instead of seeking (0.3 ms); and a prepared `id = ANY($2)` never settles on a generic plan (it assumes
 * ten values), so a lookup by one key would be planned again on every request.
 */
export function equalsAnyOf(column: string, values: readonly string[], type: string): Prisma.Sql {
  return values.length === 1
    ? Prisma.sql`${Prisma.raw(column)} = ${values[0]}::${Prisma.raw(type)}`
    : Prisma.sql`${Prisma.raw(column)} = ANY(${values}::${Prisma.raw(`${type}[]`)})`;
}

/** What `selectPage` reads; every identifier must be trusted (never user input). */
export interface PageStatement {
  /** The table and its alias, e.g. `sessions` and `s`. */
  table: string;
  alias: string;
  /** The columns of each row, over the alias. */
  columns: Prisma.Sql;
  /** The rows of the list (tenant included), over the alias. */
  where: Prisma.Sql;
  /**
   * The column the list is ordered by (then by id), its type (default `timestamptz`) and direction. `columns` must
   * select it under its own name, as itself or as text of it (e.g. `cost_usd::text AS cost_usd`).
   */
  orderColumn: string;
  orderType?: KeysetColumnType;
  descending: boolean;
  page: KeysetPage;
  /** More columns of each row of the page, over the alias `page`, e.g. a correlated count. */
  perRow?: Prisma.Sql;
  /** Whether to count every row of the list too. */
  total: boolean;
}

/**
 * One keyset page (`page.limit + 1` rows, in read order) and, when asked, the number of rows of the whole list, in
 * ONE statement of plain columns; `total` is null when not asked for. The count rides on every row (one row of nulls
 * when the page is empty), which costs PostgreSQL nothing, where building the page as JSON cost it a tenth more.
 */
export async function selectPage<T extends { id: string }>(
  db: Database,
  statement: PageStatement,
): Promise<{ rows: T[]; total: number | null }> {
  const { table, alias, page, orderColumn } = statement;
  const orderType = statement.orderType ?? 'timestamptz';
  const from = Prisma.raw(`${table} ${alias}`);
  const keyset = keysetSql(
    Prisma.raw(`${alias}.${orderColumn}`),
    Prisma.raw(`${alias}.id`),
    statement.descending,
    page,
    page.seek && keysetValue(orderType, page.seek.value),
  );
  const direction = Prisma.raw(readsDescending(statement.descending, page) ? 'DESC' : 'ASC');
  const perRow = statement.perRow ? Prisma.sql`, ${statement.perRow}` : Prisma.empty;
  const pageSql = Prisma.sql`
    WITH page AS (
      SELECT ${statement.columns} FROM ${from}
      WHERE ${statement.where} AND ${keyset.where}
      ORDER BY ${keyset.orderBy} ${pageLimit(page)}
    )`;
  const orderBy = Prisma.sql`ORDER BY page.${Prisma.raw(orderColumn)}::${Prisma.raw(orderType)} ${direction}, page.id ${direction}`;
  if (!statement.total) {
    const rows = await db.queryRows<T>(Prisma.sql`${pageSql} SELECT page.*${perRow} FROM page ${orderBy}`);
    return { rows, total: null };
  }
  const rows = await db.queryRows<T & { total: number }>(Prisma.sql`${pageSql}
    SELECT page.*${perRow}, total.n AS total
    FROM (SELECT count(*)::int AS n FROM ${from} WHERE ${statement.where}) total LEFT JOIN page ON TRUE
    ${orderBy}`);
  return { rows: rows.filter((row) => row.id !== null), total: rows[0]?.total ?? 0 };
}
