import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { listenGraphQL, type ListeningGraphQLServer } from './graphql-http';

/** What the gateway keeps of a client request: the headers it forwards to every subgraph. */
export interface GatewayContext {
  readonly authorization?: string;
  readonly tenant?: string;
}

/** A subgraph the gateway composes: its name in the supergraph and its GraphQL endpoint. */
export interface SubgraphEndpoint {
  readonly name: string;
  readonly url: string;
}

/**
 * Starts an Apollo Gateway behind an Apollo Server on 127.0.0.1. The supergraph is composed at
 * start-up from each subgraph's `_service { sdl }` (IntrospectAndCompose, no polling), and the
 * client's Authorization and x-tenant-id headers are forwarded to the subgraphs on every query it plans.
 */
export async function startGateway(subgraphs: readonly SubgraphEndpoint[]): Promise<ListeningGraphQLServer> {
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({ subgraphs: [...subgraphs] }),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest({ request, context }) {
          // Schema loading (`_service`) runs with an empty context: it sends no key, and needs none.
          const authorization: unknown = context.authorization;
          if (typeof authorization === 'string') request.http?.headers.set('authorization', authorization);
          const tenant: unknown = context.tenant;
          if (typeof tenant === 'string') request.http?.headers.set('x-tenant-id', tenant);
        },
      }),
  });
  // Apollo Server starts the gateway (composition happens here) and stops it in `stop()`.
  const apollo = new ApolloServer<GatewayContext>({ gateway });
  return listenGraphQL(apollo, (request) => {
    const tenant = request.headers['x-tenant-id'];
    return { authorization: request.headers.authorization, ...(typeof tenant === 'string' ? { tenant } : {}) };
  });
}
