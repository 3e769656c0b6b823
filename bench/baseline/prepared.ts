// The lean baseline sends every statement as a named prepared statement, as a hand-tuned service would:
// PostgreSQL parses and plans each distinct text once per connection instead of on every request.
import type { Pool, QueryResult, QueryResultRow } from 'pg';

const names = new Map<string, string>();

/** Runs `text` with `values` as the named prepared statement of that text (named on first use). */
export function prepared<R extends QueryResultRow>(pool: Pool, text: string, values: unknown[]): Promise<QueryResult<R>> {
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = `baseline_${names.size}`));
  return pool.query<R>({ name, text, values });
}
