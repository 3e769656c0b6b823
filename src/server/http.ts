import express, { type ErrorRequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import type { Database } from '../db/client';
import { createApolloServer } from './apollo';
import { compiledOperations } from './compiled-execution';
import type { Authenticator } from './auth';
import type { RequestContext } from '../core/context';
import { createRequestContext } from './context';
import { graphiqlLandingPagePlugin, mountGraphiQL } from './graphiql';
import { graphqlRequestHandler, HttpError, sendJsonError } from './graphql-http';
import { readinessHandler } from './health';
import { Metrics, metricsHandler } from './metrics';
import { isDatabaseUnavailable } from '../db/errors';
import { openReadReplicas } from '../db/read-replicas';
import { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import { ServiceUnavailableError } from '../graphql/errors';
import type { Logger } from '../logger';
import type { NotificationSource } from '../db/notifications';
import { LiveEventBus } from '../live/live.bus';
import { conversationSyncConfigOf, syncConversations } from '../conversations/conversation.sync';
import { costBudgetOf } from './fairness';
import { serveWebSocket } from './websocket';
import { openSharedStore } from '../db/redis';
import { subscribeToRevocations } from '../api-keys/api-key.revocations';
import { PersistedQueryCache } from './persisted-queries';

const GRAPHQL_PATH = '/graphql';

/** A listening convoql HTTP server. */
export interface RunningServer {
  readonly url: string;
  /** Where /metrics is served: on the API's port, or on METRICS_HOST:METRICS_PORT when configured. */
  readonly metricsUrl: string;
  readonly httpServer: Server;
  readonly metrics: Metrics;
  /** Stops accepting connections, finishes in-flight requests, then stops Apollo; idempotent. */
  close(): Promise<void>;
}

/** Thrown when the HTTP server cannot listen; its message is one line. */
export class ListenError extends Error {
  override name = 'ListenError';
}

/** Wires Express 5 and Apollo Server 5 and starts listening on the configured host and port. */
export async function startServer(options: {
  config: Config;
  logger: Logger;
  db: Database;
  schema: GraphQLSchema;
  authenticator: Authenticator;
  /** The embedded demo database's API key, pre-filled in GraphiQL; leave out for any other database. */
  demoApiKey?: string;
  /** The database's live events (LISTEN on PostgreSQL, the embedded PGlite's own), which subscriptions are fed from. */
  liveEvents: NotificationSource;
}): Promise<RunningServer> {
  const { config, logger, db, schema, authenticator, demoApiKey } = options;
  const app = express();
  app.disable('x-powered-by');
  // POST /graphql, the dashboards' traffic, skips Express (see graphqlRequestHandler); the rest is routed by it.
  const httpServer = createServer((request, response) => {
    if (request.method === 'POST' && (request.url === GRAPHQL_PATH || request.url?.startsWith(`${GRAPHQL_PATH}?`))) {
      serveGraphQL(request, response);
    } else app(request, response);
  });
  // Keep idle connections open longer than clients and load balancers do (they usually close at
  // 4–60 s), so a client never reuses a socket the server is closing at that moment (ECONNRESET).
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;

  // Budgets, usage results, persisted queries and revocations are shared through Redis when REDIS_URL is set.
  const store = await openSharedStore(config, logger);
  const metrics = new Metrics(db, { maxOperations: config.metrics.maxOperations });
  if (store) metrics.watchRedis(store);
  const usageCache = new UsageCache<UsageFigures[]>({ ttlMs: config.analytics.usageCacheSeconds * 1000, shared: store });
  const budget = costBudgetOf(config, store);
  if (store)
    subscribeToRevocations(
      store,
      (apiKeyId) => authenticator.revoke(apiKeyId),
      () => authenticator.clear(),
    );
  // Queries read from these (DATABASE_READ_URL); mutations, subscriptions and everything else from the primary.
  const replicas = await openReadReplicas(db, config, logger);
  if (replicas) metrics.observeReplicas(replicas);
  // Compiled once per operation for both transports: queries and mutations over HTTP, subscriptions' events.
  const operations = compiledOperations(schema);
  const apollo = createApolloServer({
    schema,
    operations,
    config,
    logger,
    httpServer,
    budget,
    replicas,
    onRead: (target) => metrics.replicaReads.inc({ target }),
    persistedQueries: new PersistedQueryCache(store),
    plugins: [graphiqlLandingPagePlugin({ demoApiKey }), metrics.plugin()],
  });
  await apollo.start().catch(async (error: unknown) => {
    await store?.close();
    await replicas?.close();
    throw error;
  });

  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', readinessHandler(db, store, replicas));
  const serveMetrics = metricsHandler(metrics, config.metrics.token);
  // With an address of its own (a port only the scraper reaches), /metrics is not on the API's port at all.
  if (!config.metrics.listen) app.get('/metrics', (request, response, next) => void serveMetrics(request, response).catch(next));
  const handleGraphQL = graphqlRequestHandler(apollo, {
    bodyLimitBytes: config.http.bodyLimitBytes,
    context: async (request): Promise<RequestContext> => {
      const header = request.headers['x-request-id'];
      const requestId = (typeof header === 'string' && header.slice(0, 100)) || undefined;
      const viewer = await authenticator.authenticate(request.headers).catch((error: unknown) => {
        // The key lookup is the first statement of a request: a database outage surfaces here.
        throw isDatabaseUnavailable(error) ? new ServiceUnavailableError() : error;
      });
      return createRequestContext({ db, config, logger, viewer, requestId, metrics, usageCache });
    },
  });
  const serveGraphQL = (request: IncomingMessage, response: ServerResponse) => {
    handleGraphQL(request, response).catch((error: unknown) => answerHttpError(response, error, logger));
  };
  const bus = new LiveEventBus(
    options.liveEvents,
    (tenantId) =>
      createRequestContext({
        db,
        config,
        logger,
        metrics,
        usageCache,
        viewer: { apiKeyId: 'live-events', apiKeyName: 'live events', scopes: new Set(['read']), tenantId, isAdminKey: false },
      }),
    logger,
    { delivered: () => undefined, failed: (count) => metrics.liveEvents.inc({ field: 'any', outcome: 'dropped' }, count) },
    // LangGraph's writes announce their thread; while anyone watches conversations, that thread is synced at once.
    async (threadId) => ({ busy: (await syncConversations(db, conversationSyncConfigOf(config), [threadId])).busy > 0 }),
  );
  await bus.start();
  const webSocket = serveWebSocket({
    httpServer,
    path: GRAPHQL_PATH,
    schema,
    operations,
    config,
    logger,
    db,
    authenticator,
    bus,
    metrics,
    budget,
    usageCache,
    recheckMs: authenticator.ttlMs,
  });
  mountGraphiQL(app, { demoApiKey });
  app.use(GRAPHQL_PATH, serveGraphQL);
  app.use(jsonErrorHandler(logger));

  const address = await listen(httpServer, config.http.host, config.http.port, 'PORT').catch(async (error: unknown) => {
    await webSocket.close();
    await bus.stop();
    await store?.close();
    await replicas?.close();
    throw error;
  });
  let metricsServer: Server | undefined;
  let metricsAddress = address;
  if (config.metrics.listen) {
    metricsServer = createServer(metricsOnlyListener(serveMetrics, logger));
    metricsAddress = await listen(metricsServer, config.metrics.listen.host, config.metrics.listen.port, 'METRICS_PORT').catch(
      async (error: unknown) => {
        await apollo.stop();
        throw error;
      },
    );
  }
  let closing: Promise<void> | undefined;
  return {
    url: `${origin(address)}/graphql`,
    metricsUrl: `${origin(metricsAddress)}/metrics`,
    httpServer,
    metrics,
    close: () =>
      (closing ??= (async () => {
        await webSocket.close();
        await bus.stop();
        const server = metricsServer;
        if (server) {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
        await apollo.stop();
        await store?.close();
        await replicas?.close();
      })()),
  };
}

/** Listens on host:port; a failure is a ListenError naming the variable to change. */
async function listen(server: Server, host: string, port: number, variable: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new ListenError(
          error.code === 'EADDRINUSE'
            ? `Port ${port} on ${host} is already in use; set ${variable} to a free port.`
            : `Cannot listen on ${host}:${port}: ${error.message}`,
        ),
      );
    });
    server.listen(port, host, resolve);
  });
  return server.address() as AddressInfo;
}

function origin(address: AddressInfo): string {
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

/** The listener of METRICS_PORT: GET /metrics, and a JSON 404 for anything else. */
function metricsOnlyListener(
  serveMetrics: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  logger: Logger,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = request.url?.split('?', 1)[0];
    if (path !== '/metrics') return sendJsonError(response, new HttpError(404, 'NOT_FOUND', `Only /metrics is served here, not ${path}.`));
    if (request.method !== 'GET')
      return sendJsonError(response, new HttpError(405, 'BAD_REQUEST', `/metrics answers GET, not ${request.method}.`));
    serveMetrics(request, response).catch((error: unknown) => answerHttpError(response, error, logger));
  };
}

/** Answers an error of HTTP handling as GraphQL-shaped JSON; an unexpected one is logged and answered 500. */
function answerHttpError(response: ServerResponse, error: unknown, logger: Logger): void {
  if (!(error instanceof HttpError)) logger.error({ err: error }, 'unexpected HTTP error');
  if (response.headersSent) return void response.destroy();
  sendJsonError(response, error instanceof HttpError ? error : new HttpError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
}

/** Express's last handler: errors of its routes answered as GraphQL-shaped JSON, never as an HTML stack trace. */
function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: { status?: number; message?: string }, _request, response, _next) => {
    const status = typeof error.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    answerHttpError(response, status < 500 ? new HttpError(status, 'BAD_REQUEST', error.message ?? 'Bad request') : error, logger);
  };
}
