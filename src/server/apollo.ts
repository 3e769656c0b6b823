import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Server } from 'node:http';
import type { Config } from '../config';
import { CLIENT_SAFE_CODES } from '../graphql/errors';
import { clientErrorCode, isCodedError } from './error-codes';
import type { RequestContext } from '../core/context';
import { compiledExecutionGateway, type CompiledOperations } from './compiled-execution';
import type { ReadReplicas } from '../db/read-replicas';
import { routeReads } from './read-routing';
import type { KeyBudgets } from './cost-budget';
import { PersistedQueryCache } from './persisted-queries';
import { fairnessPlugin } from './fairness';
import { limitedParseOptions, queryLimitsPlugin } from './limits';
import { knownOperationTypesRule } from './validation';
import type { Logger } from '../logger';

/** Creates the Apollo Server with convoql's query limits, error masking and request logging. */
export function createApolloServer(options: {
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  httpServer?: Server;
  plugins?: ApolloServerPlugin<RequestContext>[];
  /** The keys' cost budgets, shared with subscriptions; made from config when left out. */
  budget?: KeyBudgets | null;
  /** Where automatic persisted queries are kept (shared through Redis by the server); this process's own when left out. */
  persistedQueries?: PersistedQueryCache;
  /** The read replicas queries read from (DATABASE_READ_URL); null or left out reads everything from the primary. */
  replicas?: ReadReplicas | null;
  /** Counts where each query read, when replicas are given. */
  onRead?: (target: 'replica' | 'primary' | 'retried') => void;
  /** The compiled operations, shared with the WebSocket's subscriptions; its own when left out. */
  operations?: CompiledOperations;
}): ApolloServer<RequestContext> {
  const { config, logger, replicas } = options;
  const development = config.env === 'development';
  return new ApolloServer<RequestContext>({
    gateway: compiledExecutionGateway(options.schema, {
      operations: options.operations,
      wrap: replicas ? (executor) => routeReads(executor, replicas, options.onRead) : undefined,
    }),
    logger,
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: development,
    csrfPrevention: true,
    parseOptions: limitedParseOptions(config.graphql),
    validationRules: [knownOperationTypesRule],
    formatError: (formatted, error) => maskError(formatted, error, development),
    // Apollo indents responses by default: a third of the bytes and a measurable share of CPU per request.
    stringifyResult: (result) => JSON.stringify(result),
    persistedQueries: { cache: options.persistedQueries ?? new PersistedQueryCache(null) },
    plugins: [
      // Nothing caches responses by cache hints, so computing them for every field is wasted work.
      ApolloServerPluginCacheControlDisabled(),
      ...(options.httpServer
        ? [ApolloServerPluginDrainHttpServer({ httpServer: options.httpServer }) as ApolloServerPlugin<BaseContext>]
        : []),
      queryLimitsPlugin(config.graphql),
      fairnessPlugin(config, options.budget),
      executedOperationStatusPlugin(),
      requestLoggingPlugin(logger),
      ...(options.plugins ?? []),
    ],
  });
}

/**
 * Passes errors with a client-safe code through and turns everything else into
 * INTERNAL_SERVER_ERROR (or SERVICE_UNAVAILABLE when the database is down), so no stack trace or
 * SQL reaches a client outside development. The detail is logged by the logging plugin.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, development: boolean): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_SAFE_CODES.has(code)) return formatted;
  switch (clientErrorCode(error)) {
    case 'BAD_REQUEST':
      return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } };
    case 'SERVICE_UNAVAILABLE':
      return { ...formatted, message: 'The database is unavailable; try again shortly.', extensions: { code: 'SERVICE_UNAVAILABLE' } };
  }
  if (development) return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

/**
 * An operation that reached execution answers HTTP 200 even when a resolver threw an error carrying an
 * HTTP status (401/403/503): the errors travel in the body next to partial data, as GraphQL over HTTP
 * specifies for both media types (a response with `data` is 2xx). For application/json, errors before
 * execution answer 200 as well (see graphql-http.ts); for application/graphql-response+json they keep
 * Apollo's status.
 */
function executedOperationStatusPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind === 'single' && 'data' in response.body.singleResult) response.http.status = 200;
        },
      };
    },
  };
}

/** Most unexpected errors one request's log line describes in full (message, path, stack); the rest are only counted. */
const LOGGED_ERROR_DETAILS = 3;

/**
 * Logs exactly one line per request, however many fields failed: request id, operation, tenant, duration,
 * outcome, the number of errors by the code the client received, and the first few unexpected errors in full.
 * The line is `error` when a bug answered INTERNAL_SERVER_ERROR, `warn` when the database was unreachable
 * (a pool timeout included), `info` otherwise. A request refused while its context was built (an unknown
 * key) never starts Apollo's pipeline and is logged from contextCreationDidFail.
 */
function requestLoggingPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async contextCreationDidFail({ error }) {
      const code = clientErrorCode(error);
      logger[levelOf([code])]({ operationName: null, outcome: code, errorCounts: { [code]: 1 } }, 'graphql request refused');
    },
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      const log = contextValue.logger ?? logger;
      return {
        async willSendResponse({ response, operationName, errors }) {
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const all: readonly unknown[] = errors ?? body?.errors ?? [];
          const errorCounts: Record<string, number> = {};
          const unexpected: Record<string, unknown>[] = [];
          for (const error of all) {
            const code = clientErrorCode(error);
            errorCounts[code] = (errorCounts[code] ?? 0) + 1;
            if (isCodedError(error) || unexpected.length >= LOGGED_ERROR_DETAILS) continue;
            const cause = unwrapResolverError(error);
            unexpected.push({
              code,
              message: cause instanceof Error ? cause.message : String(cause),
              path: (error as { path?: unknown }).path,
              // An unreachable database is an outage, not a bug: its message says which, a stack adds nothing.
              ...(code === 'INTERNAL_SERVER_ERROR' && cause instanceof Error ? { type: cause.name, stack: cause.stack } : {}),
            });
          }
          const codes = Object.keys(errorCounts);
          log[levelOf(codes)](
            {
              operationName: operationName ?? null,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              outcome: codes.length === 0 ? 'success' : codes.join(','),
              ...(codes.length > 0 ? { errorCounts } : {}),
              ...(unexpected.length > 0 ? { unexpectedErrors: unexpected } : {}),
            },
            'graphql request',
          );
        },
      };
    },
  };
}

function levelOf(codes: readonly string[]): 'error' | 'warn' | 'info' {
  if (codes.includes('INTERNAL_SERVER_ERROR')) return 'error';
  return codes.includes('SERVICE_UNAVAILABLE') ? 'warn' : 'info';
}
