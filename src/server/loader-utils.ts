import type { Options } from 'dataloader';
import type { RequestContext } from './context';

/** Orders rows to match DataLoader keys: one result per key, null for a miss. */
export function byKey<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K): (R | null)[] {
  const found = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => found.get(key) ?? null);
}

/** DataLoader options from configuration (batching can be switched off only to measure what it buys). */
export function loaderOptions(context: Pick<RequestContext, 'config'>): Pick<Options<unknown, unknown>, 'batch' | 'maxBatchSize'> {
  return { batch: context.config.graphql.dataLoaderBatching, maxBatchSize: 500 };
}
