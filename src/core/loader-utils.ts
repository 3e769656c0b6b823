import DataLoader from 'dataloader';
import type { RequestScope } from './context';

/** Orders rows to match DataLoader keys: one result per key, null for a miss. */
export function byKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): (R | null)[] {
  const found = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => found.get(key) ?? null);
}

/** Rows grouped by `keyOf`, each group in the rows' order: the per-key lists a batched statement answers. */
export function groupBy<K, R>(rows: Iterable<R>, keyOf: (row: R) => K): Map<K, R[]> {
  const groups = new Map<K, R[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

/**
 * A per-request DataLoader whose batches are counted in the metrics by `name`. Batching follows the
 * configuration (switched off only by the benchmark, to measure what it buys).
 */
export function createLoader<K, V>(
  context: Pick<RequestScope, 'config' | 'metrics'>,
  name: string,
  batch: (keys: readonly K[]) => Promise<readonly V[]>,
): DataLoader<K, V> {
  return new DataLoader<K, V>(
    (keys) => {
      context.metrics?.dataLoaderBatchSize.observe({ loader: name }, keys.length);
      return batch(keys);
    },
    { batch: !context.config.graphql.loadPerField, maxBatchSize: 500 },
  );
}
