import { ApolloServer, type BaseContext } from '@apollo/server';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { graphqlRequestHandler, HttpError, sendJsonError } from '../../src/server/graphql-http';

/** An Apollo Server listening on 127.0.0.1 at a free port, for one test file. */
export interface ListeningGraphQLServer {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:41234/graphql. */
  readonly url: string;
  /** Drops open (keep-alive) connections, then stops Apollo Server (and a gateway it runs); idempotent. */
  close(): Promise<void>;
}

/** What every test GraphQL server does per request: build the context from the HTTP request. */
export type ContextFromRequest<TContext extends BaseContext> = (request: IncomingMessage) => TContext | Promise<TContext>;

/**
 * Serves `apollo` with convoql's own GraphQL request handler (as src/server/http.ts does), listening on 127.0.0.1 port 0.
 * Not `startStandaloneServer`: its HTTP server is hidden, so keep-alive sockets of the gateway's
 * fetcher could not be closed and Jest would wait for them.
 */
export async function listenGraphQL<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  contextFromRequest: ContextFromRequest<TContext>,
): Promise<ListeningGraphQLServer> {
  await apollo.start();
  const handle = graphqlRequestHandler(apollo, { bodyLimitBytes: 1024 * 1024, context: async (request) => contextFromRequest(request) });
  const httpServer = createServer((request, response) => {
    if (!request.url?.startsWith('/graphql')) return sendJsonError(response, new HttpError(404, 'NOT_FOUND', 'Not found'));
    handle(request, response).catch((error: unknown) =>
      sendJsonError(response, error instanceof HttpError ? error : new HttpError(500, 'INTERNAL_SERVER_ERROR', String(error))),
    );
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', resolve);
  });
  const { port } = httpServer.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      (closing ??= (async () => {
        httpServer.closeAllConnections();
        await new Promise<void>((resolve, reject) => httpServer.close((error) => (error ? reject(error) : resolve())));
        await apollo.stop();
      })()),
  };
}

/** A GraphQL response body as a client receives it over HTTP, with the HTTP status. */
export interface HttpGraphQLResponse<TData> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

/** POSTs a GraphQL operation as JSON (which passes Apollo's CSRF prevention), with optional extra headers. */
export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<HttpGraphQLResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as Omit<HttpGraphQLResponse<TData>, 'status'>) };
}
