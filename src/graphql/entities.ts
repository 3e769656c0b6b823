import { assertAuthorized } from '../core/auth';
import type { RequestContext } from '../core/context';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import { MAX_PAGE_SIZE } from './connection';
import { BadUserInputError } from './errors';
import { fromGlobalId, type NodeTypeName } from './global-id';

/**
 * Wraps the subgraph's `_entities` resolver so that its representations are checked before any is resolved: at most
 * {@link MAX_PAGE_SIZE}, each an object `{ __typename, id }` naming an entity type of the schema with a string id.
 * Anything else is BAD_USER_INPUT (Apollo's resolver would throw an uncoded error, or resolve 10,000 of them).
 */
export function checkEntityRepresentations(schema: GraphQLSchema, entityTypes: ReadonlySet<string>): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const resolve = field?.resolve as GraphQLFieldResolver<unknown, unknown, { representations: unknown[] }> | undefined;
  if (!field || !resolve) throw new Error('The schema has no _entities resolver to check.');
  field.resolve = (source, args, context, info) => {
    assertRepresentations(args.representations, entityTypes);
    return resolve(source, args, context, info);
  };
}

function assertRepresentations(representations: unknown[], entityTypes: ReadonlySet<string>): void {
  if (representations.length > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`Pass at most ${MAX_PAGE_SIZE} representations, received ${representations.length}.`, 'representations');
  }
  representations.forEach((representation, index) => {
    const { __typename: typename, id } = (typeof representation === 'object' && representation !== null ? representation : {}) as {
      __typename?: unknown;
      id?: unknown;
    };
    if (Array.isArray(representation) || typeof typename !== 'string' || !entityTypes.has(typename) || typeof id !== 'string') {
      throw new BadUserInputError(
        `representations[${index}] must be an object { __typename, id } with __typename one of ${[...entityTypes].join(', ')} ` +
          `and a string id; received ${JSON.stringify(representation)?.slice(0, 100)}.`,
        'representations',
      );
    }
  });
}

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
