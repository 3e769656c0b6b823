import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * Rejects an operation whose type (query, mutation, subscription) the schema has no root type for, as graphql-js 17's
 * KnownOperationTypesRule does: convoql has no subscriptions yet, and graphql-jit would fail on one at execution.
 */
export const knownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema().getRootType(node.operation)) return;
    context.reportError(
      new GraphQLError(
        node.operation === 'subscription'
          ? 'Subscriptions are not supported yet; send a query or a mutation.'
          : `The schema does not support ${node.operation} operations.`,
        { nodes: node },
      ),
    );
  },
});
