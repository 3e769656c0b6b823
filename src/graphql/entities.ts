import { assertAuthorized } from '../core/auth';
import type { RequestContext } from '../core/context';
import { fromGlobalId, type NodeTypeName } from './global-id';

/**
 * A Federation reference resolver: `_entities` representations `{ id }` resolve through a per-request
 * DataLoader (one statement per type per batch), with the same `read` scope and tenant as queries;
 * a foreign, missing or malformed id resolves to null.
 */
export function entityResolver<TRow, TNode>(
  type: NodeTypeName,
  load: (context: RequestContext, key: string) => Promise<TRow | null>,
  toNode: (row: TRow) => TNode,
) {
  return {
    async __resolveReference(reference: { id: string }, context: RequestContext): Promise<TNode | null> {
      assertAuthorized(context, ['read']);
      const key = entityKey(reference.id, type);
      const row = key && (await load(context, key));
      return row ? toNode(row) : null;
    },
  };
}

function entityKey(id: string, type: NodeTypeName): string | null {
  try {
    const decoded = fromGlobalId(id);
    return decoded.type === type ? decoded.key : null;
  } catch {
    return null;
  }
}
