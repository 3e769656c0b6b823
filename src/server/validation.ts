import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * Rejects an operation whose type (query, mutation, subscription) the schema has no root type for, as graphql-js 17's
 * KnownOperationTypesRule does; and subscriptions over HTTP, which are served over WebSocket (src/server/websocket.ts).
 */
export const knownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation !== 'subscription' && context.getSchema().getRootType(node.operation)) return;
    context.reportError(
      new GraphQLError(
        node.operation === 'subscription'
          ? 'Subscriptions are served over WebSocket on this path (the graphql-transport-ws protocol of graphql-ws); send queries and mutations over HTTP.'
          : `The schema does not support ${node.operation} operations.`,
        { nodes: node },
      ),
    );
  },
});
