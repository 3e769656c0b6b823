import {
  createSourceEventStream,
  execute,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config';
import type { Viewer } from '../core/context';
import type { Database } from '../db/client';
import { isDatabaseUnavailable } from '../db/errors';
import { ThrottledError } from '../graphql/errors';
import type { LiveContext, LiveEventBus } from '../live/live.bus';
import { LiveConnection, type LiveDelivery } from '../live/live.stream';
import type { Logger } from '../logger';
import type { UsageCache } from '../analytics/usage.cache';
import type { UsageFigures } from '../analytics/usage.repository';
import { maskError } from './apollo';
import type { Authenticator } from './auth';
import type { CompiledOperations } from './compiled-execution';
import { createRequestContext } from './context';
import type { KeyBudgets } from './cost-budget';
import { checkLimits, countTokens, measureOperation } from './limits';
import type { Metrics } from './metrics';

/**
 * Close codes of convoql's WebSocket beyond graphql-ws's own (4400 bad message, 4401 subscribe before
 * connection_ack, 4403 forbidden, 4406 subprotocol, 4408 init timeout, 4409 duplicate id, 4429 second init, 4500).
 */
export const LIVE_CLOSE_CODES = {
  /** The API key is missing, unknown or revoked, or names another tenant (also at a later re-check). */
  forbidden: CloseCode.Forbidden,
  /** The client read too slowly: more than LIVE_SEND_QUEUE_LENGTH events waited to be sent to it. */
  slowConsumer: 4413,
  /** The database could not be reached to check the key; reconnect later. */
  tryAgainLater: 1013,
  /** The server is shutting down (its subscriptions were completed first). */
  goingAway: 1001,
} as const;

/** How long a socket closed for being slow may take to finish its close handshake before it is cut. */
const CLOSE_GRACE_MS = 10_000;
/** How long shutdown waits for the `complete` messages of open subscriptions to be written. */
const SHUTDOWN_FLUSH_MS = 1_000;

interface SocketState {
  readonly socket: WebSocket;
  readonly headers: IncomingHttpHeaders;
  viewer: Viewer;
  readonly connection: LiveConnection;
  /** Subscription ids running on this socket, with their field. */
  readonly active: Map<string, string>;
  graphqlWs: WsContext | undefined;
}

/** The WebSocket endpoint of a server; `close` completes every subscription, then closes the sockets. */
export interface LiveWebSocketServer {
  close(): Promise<void>;
}

/**
 * Serves GraphQL subscriptions with graphql-ws on `path` of the HTTP server (a WebSocket upgrade). Authentication,
 * tenant and scopes are those of HTTP requests: the API key comes from `connection_init`'s payload (`authorization`,
 * `x-api-key`, `x-tenant-id`, or `apiKey`, `tenantId`) or else from the upgrade request's headers, and each operation's
 * context is built by the same builder. A key is re-checked every `recheckMs` (the key cache's lifetime): a revoked
 * key's sockets are closed with 4403. Only subscriptions are served here; queries and mutations go to POST /graphql.
 * Each subscription is measured against the query limits and pays its cost from its key's budget when it starts;
 * LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION and _PER_KEY bound how many run. Each event is resolved with the loaders of
 * its delivery batch (fresh per batch, shared by the tenant's subscribers), never with ones cached at subscribe time.
 */
export function serveWebSocket(options: {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  /** Compiled operations (the HTTP executor's): each event of a subscription runs its compiled operation. */
  operations: CompiledOperations;
  config: Config;
  logger: Logger;
  db: Database;
  authenticator: Authenticator;
  bus: LiveEventBus;
  metrics: Metrics;
  budget: KeyBudgets | null;
  usageCache: UsageCache<UsageFigures[]>;
  recheckMs: number;
}): LiveWebSocketServer {
  const { httpServer, path, schema, operations, config, logger, db, authenticator, bus, metrics, budget, usageCache } = options;
  const development = config.env === 'development';
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.http.bodyLimitBytes });
  const sockets = new Map<WebSocket, SocketState>();
  const byKey = new Map<string, number>();
  /** Per WebSocket: holds its frames back until the end of the current turn of the event loop (writeCoalescer). */
  const holdWrites = new WeakMap<WebSocket, () => void>();
  /** The same, by the send queue of a socket's subscriptions, which is what an operation's context knows. */
  const holdWritesOf = new WeakMap<LiveConnection, () => void>();
  /**
   * Valid documents by query text, as Apollo keeps them for HTTP: a dashboard opens the same subscription for many
   * sessions, and each document's operation is compiled once for all of them (compiled-execution.ts).
   */
  const documents = new Map<string, DocumentNode>();
  let closing = false;

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const requestPath = request.url?.split('?', 1)[0];
    if (closing || requestPath !== path) {
      socket.end(`HTTP/1.1 ${closing ? '503 Service Unavailable' : '404 Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      holdWrites.set(ws, writeCoalescer(socket));
      wss.emit('connection', ws, request);
    });
  };
  httpServer.on('upgrade', onUpgrade);
  wss.on('connection', (socket) => {
    metrics.liveSockets.inc();
    socket.once('close', () => metrics.liveSockets.dec());
  });

  const closeSocket = (socket: WebSocket, code: number, reason: string) => {
    socket.close(code, reason);
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  };
  const forget = (state: SocketState, id: string) => {
    const field = state.active.get(id);
    if (field === undefined) return;
    state.active.delete(id);
    metrics.liveSubscriptions.dec({ field });
    const count = (byKey.get(state.viewer.apiKeyId) ?? 1) - 1;
    if (count > 0) byKey.set(state.viewer.apiKeyId, count);
    else byKey.delete(state.viewer.apiKeyId);
  };
  const coded = (error: GraphQLError) => maskError(error.toJSON(), error, development);

  const server = useServer<Record<string, unknown> | undefined, { socket: WebSocket; request: IncomingMessage }>(
    {
      schema,
      connectionInitWaitTimeout: 3_000,
      async onConnect(ctx) {
        const { socket, request } = ctx.extra;
        const headers = { ...request.headers, ...headersOfConnectionParams(ctx.connectionParams) };
        let viewer: Viewer | null;
        try {
          viewer = await authenticator.authenticate(headers);
        } catch (error) {
          if (isDatabaseUnavailable(error))
            closeSocket(socket, LIVE_CLOSE_CODES.tryAgainLater, 'The database is unavailable; reconnect shortly.');
          else closeSocket(socket, LIVE_CLOSE_CODES.forbidden, error instanceof GraphQLError ? error.message : 'Forbidden');
          return false;
        }
        if (!viewer) {
          closeSocket(
            socket,
            LIVE_CLOSE_CODES.forbidden,
            'An API key is required: send {"authorization": "Bearer <key>"} in connection_init.',
          );
          return false;
        }
        const state: SocketState = {
          socket,
          headers,
          viewer,
          active: new Map(),
          graphqlWs: ctx,
          connection: new LiveConnection(
            config.live.sendQueueLength,
            () => {
              logger.warn({ tenant: viewer.tenantId, apiKeyId: viewer.apiKeyId }, 'closed a WebSocket whose client read too slowly');
              closeSocket(socket, LIVE_CLOSE_CODES.slowConsumer, 'Slow consumer: too many events waited to be sent.');
            },
            (count) => metrics.liveEvents.inc({ field: 'any', outcome: 'dropped' }, count),
          ),
        };
        sockets.set(socket, state);
        const hold = holdWrites.get(socket);
        if (hold) holdWritesOf.set(state.connection, hold);
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        const state = sockets.get(ctx.extra.socket);
        if (!state) return [new GraphQLError('The connection is not authenticated.', { extensions: { code: 'UNAUTHENTICATED' } })];
        let document = documents.get(payload.query);
        if (!document) {
          try {
            document = parse(payload.query, { maxLexicalTokens: config.graphql.maxTokens });
          } catch (error) {
            const tokens = countTokens(payload.query);
            const message =
              tokens > config.graphql.maxTokens
                ? `Query token count ${tokens} exceeds the limit of ${config.graphql.maxTokens}.`
                : (error as Error).message;
            const code = tokens > config.graphql.maxTokens ? 'QUERY_TOO_COMPLEX' : 'GRAPHQL_PARSE_FAILED';
            return [new GraphQLError(message, { extensions: { code } })];
          }
          const invalid = validate(schema, document, specifiedRules);
          if (invalid.length > 0)
            return invalid.map(
              (error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
            );
          if (documents.size >= DOCUMENT_CACHE_SIZE) documents.delete(documents.keys().next().value!);
          documents.set(payload.query, document);
        }
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) {
          return [new GraphQLError('The document names no operation to run; set operationName.', { extensions: { code: 'BAD_REQUEST' } })];
        }
        if (operation.operation !== 'subscription') {
          return [
            new GraphQLError(
              `This WebSocket serves subscriptions; send ${operation.operation === 'query' ? 'queries' : 'mutations'} as HTTP POST /graphql.`,
              { extensions: { code: 'BAD_REQUEST' } },
            ),
          ];
        }
        const variables = payload.variables ?? {};
        const measured = measureOperation(schema, document, operation, variables);
        const exceeded = checkLimits(measured, config.graphql);
        if (exceeded) return [exceeded];
        const { viewer } = state;
        if (state.active.size >= config.live.maxSubscriptionsPerConnection) {
          return [
            new ThrottledError(
              `Throttled: this connection already runs ${state.active.size} subscriptions, the most one connection may; ` +
                'complete one first, or open another connection.',
              { retryAfterMs: 1_000, maxSubscriptionsPerConnection: config.live.maxSubscriptionsPerConnection },
            ),
          ];
        }
        if ((byKey.get(viewer.apiKeyId) ?? 0) >= config.live.maxSubscriptionsPerKey) {
          return [
            new ThrottledError(
              `Throttled: this API key already runs ${config.live.maxSubscriptionsPerKey} subscriptions on this server, the most ` +
                'one key may; complete one first.',
              { retryAfterMs: 1_000, maxSubscriptionsPerKey: config.live.maxSubscriptionsPerKey },
            ),
          ];
        }
        if (budget) {
          const decision = await budget.take(`${viewer.apiKeyId}/${viewer.tenantId ?? ''}`, measured.cost);
          if (!decision.taken) {
            return [
              new ThrottledError(
                `Throttled: this subscription costs ${measured.cost} points and this API key has ${decision.status.currentlyAvailable} ` +
                  `of its ${decision.status.maximumAvailable} available; retry in ${Math.ceil(decision.retryAfterMs / 1000)} s.`,
                { retryAfterMs: decision.retryAfterMs, requested: measured.cost, currentlyAvailable: decision.status.currentlyAvailable },
              ),
            ];
          }
        }
        const field = operation.selectionSet.selections.find((selection) => selection.kind === 'Field')?.name.value ?? 'unknown';
        state.active.set(id, field);
        byKey.set(viewer.apiKeyId, (byKey.get(viewer.apiKeyId) ?? 0) + 1);
        metrics.liveSubscriptions.inc({ field });
        // Not a spread: a context's loaders are a getter of its class, which a spread would leave behind.
        const context: LiveContext = Object.assign(createRequestContext({ db, config, logger, viewer, metrics, usageCache }), {
          live: { bus, connection: state.connection },
        });
        return { schema, document, operationName: payload.operationName, variableValues: variables, contextValue: context };
      },
      subscribe: async (args) => {
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterator(stream)) return stream as ExecutionResult;
        const definition = getOperationAST(args.document, args.operationName);
        const field = definition?.selectionSet.selections[0];
        const variables = args.variableValues ?? {};
        // Coerced once for the compiled operation that resolves each event (createSourceEventStream has accepted them).
        const coerced = definition && getVariableValues(schema, definition.variableDefinitions ?? [], variables);
        const runEvent = (rootValue: unknown, contextValue: LiveContext): Promise<ExecutionResult> =>
          definition && coerced?.coerced
            ? operations.run({ document: args.document, definition, variables, coerced: coerced.coerced, rootValue, contextValue })
            : Promise.resolve(execute({ ...args, rootValue, contextValue }));
        // The subscription's metric series, found once rather than by their labels on every event.
        const name = field?.kind === 'Field' ? field.name.value : 'unknown';
        const delivered = metrics.liveEvents.labels({ field: name, outcome: 'delivered' });
        const latency = metrics.liveDeliveryLatency.labels({ field: name });
        const connection = (args.contextValue as LiveContext).live?.connection;
        const hold = (connection && holdWritesOf.get(connection)) || (() => undefined);
        return resolveEach(stream as AsyncIterator<LiveDelivery<unknown>>, args.contextValue as LiveContext, runEvent, (delivery) => {
          hold();
          delivered.inc();
          latency.observe((performance.now() - delivery.receivedAt) / 1000);
        });
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(coded) } : undefined),
      onError: (_ctx, _id, _payload, errors) => errors.map(coded),
      onComplete(ctx, id) {
        const state = sockets.get(ctx.extra.socket);
        if (state) forget(state, id);
      },
      onClose(ctx) {
        const state = sockets.get(ctx.extra.socket);
        if (!state) return;
        for (const id of [...state.active.keys()]) forget(state, id);
        sockets.delete(ctx.extra.socket);
      },
    },
    wss,
    config.live.keepAliveSeconds * 1000,
  );

  // A key revoked in any process (announced through Redis) closes its sockets here at once.
  authenticator.onRevoked((apiKeyId) => {
    for (const state of sockets.values())
      if (state.viewer.apiKeyId === apiKeyId) closeSocket(state.socket, LIVE_CLOSE_CODES.forbidden, 'The API key was revoked.');
  });
  // Otherwise a revoked key's sockets close within the key cache's lifetime: each socket's key is looked up again (the
  // authenticator's cache makes that one statement per key and period).
  const recheck = setInterval(
    () => {
      for (const state of sockets.values()) {
        authenticator.authenticate(state.headers).then(
          (viewer) => {
            if (!viewer || viewer.tenantId !== state.viewer.tenantId)
              closeSocket(state.socket, LIVE_CLOSE_CODES.forbidden, 'The API key is no longer valid.');
          },
          (error: unknown) => {
            if (!isDatabaseUnavailable(error))
              closeSocket(
                state.socket,
                LIVE_CLOSE_CODES.forbidden,
                error instanceof GraphQLError ? error.message : 'The API key is no longer valid.',
              );
          },
        );
      }
    },
    Math.max(1_000, options.recheckMs),
  );
  recheck.unref();

  let closed: Promise<void> | undefined;
  return {
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(recheck);
        httpServer.off('upgrade', onUpgrade);
        // Complete every subscription (graphql-ws sends `complete` for each), give the messages a moment to be written,
        // then close the sockets as going away.
        const completions: Promise<unknown>[] = [];
        for (const state of sockets.values()) {
          for (const subscription of Object.values(state.graphqlWs?.subscriptions ?? {})) {
            const iterator = subscription as AsyncIterator<unknown> | null;
            if (iterator?.return) completions.push(iterator.return());
          }
        }
        await Promise.all(completions);
        const deadline = Date.now() + SHUTDOWN_FLUSH_MS;
        while ([...sockets.values()].some((state) => state.active.size > 0) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        for (const socket of wss.clients) closeSocket(socket, LIVE_CLOSE_CODES.goingAway, 'The server is shutting down.');
        await server.dispose();
      })()),
  };
}

/** How many query texts of subscriptions are kept parsed and validated (the oldest goes first). */
const DOCUMENT_CACHE_SIZE = 500;

/** The headers an API key may be given as in `connection_init`'s payload, as HTTP would carry them. */
function headersOfConnectionParams(params: Readonly<Record<string, unknown>> | undefined): IncomingHttpHeaders {
  if (!params) return {};
  const headers: IncomingHttpHeaders = {};
  const pick = (...names: string[]) => {
    for (const name of names) {
      const value = params[name];
      if (typeof value === 'string' && value !== '') return value;
    }
    return undefined;
  };
  const authorization = pick('authorization', 'Authorization');
  const apiKey = pick('x-api-key', 'apiKey');
  const tenant = pick('x-tenant-id', 'tenantId');
  if (authorization !== undefined || apiKey !== undefined) {
    headers.authorization = authorization;
    headers['x-api-key'] = apiKey;
  }
  if (tenant !== undefined) headers['x-tenant-id'] = tenant;
  return headers;
}

/**
 * Coalesces the frames a socket is sent in one turn of the event loop into one write: the events of a delivery batch
 * resolve together and each becomes a frame, which ws would write (a system call) one by one. The first frame of a
 * turn corks the connection and the next turn uncorks it, as Node's HTTP server does with a response's parts.
 */
function writeCoalescer(connection: Duplex): () => void {
  let held = false;
  return () => {
    if (held) return;
    held = true;
    connection.cork();
    setImmediate(() => {
      held = false;
      connection.uncork();
    });
  };
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterator<unknown>).next === 'function';
}

/**
 * The subscription's results: each delivery resolved by `runEvent` with the operation's context but the loaders of its
 * delivery batch. `return()` is passed on to the source at once, so completing a subscription does not wait for its
 * next event.
 */
function resolveEach(
  source: AsyncIterator<LiveDelivery<unknown>>,
  context: LiveContext,
  runEvent: (rootValue: LiveDelivery<unknown>, contextValue: LiveContext) => Promise<ExecutionResult>,
  onDelivered: (delivery: LiveDelivery<unknown>) => void,
): AsyncIterableIterator<ExecutionResult> & { return(): Promise<IteratorResult<ExecutionResult>> } {
  const iterator = {
    async next(): Promise<IteratorResult<ExecutionResult>> {
      const next = await source.next();
      if (next.done) return { done: true, value: undefined };
      const delivery = next.value;
      const result = await runEvent(delivery, { ...context, loaders: delivery.context.loaders });
      onDelivered(delivery);
      return { done: false, value: result };
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      await source.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
