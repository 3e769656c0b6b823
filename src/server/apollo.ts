import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Server } from 'node:http';
import type { Config } from '../config';
import { CLIENT_SAFE_CODES } from '../graphql/errors';
import { isDatabaseUnavailable } from '../db/errors';
import type { RequestContext } from './context';
import { compiledExecutionGateway } from './compiled-execution';
import { fairnessPlugin } from './fairness';
import { limitedParseOptions, queryLimitsPlugin } from './limits';
import type { Logger } from './logger';

/** Creates the Apollo Server with convoql's query limits, error masking and request logging. */
export function createApolloServer(options: {
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  httpServer?: Server;
  plugins?: ApolloServerPlugin<RequestContext>[];
}): ApolloServer<RequestContext> {
  const { config, logger } = options;
  const development = config.env === 'development';
  return new ApolloServer<RequestContext>({
    gateway: compiledExecutionGateway(options.schema),
    logger,
    introspection: config.graphql.introspection,
    includeStacktraceInErrorResponses: development,
    csrfPrevention: true,
    parseOptions: limitedParseOptions(config.graphql),
    formatError: (formatted, error) => maskError(formatted, error, development),
    // Apollo indents responses by default: a third of the bytes and a measurable share of CPU per request.
    stringifyResult: (result) => JSON.stringify(result),
    plugins: [
      // Nothing caches responses by cache hints, so computing them for every field is wasted work.
      ApolloServerPluginCacheControlDisabled(),
      ...(options.httpServer
        ? [ApolloServerPluginDrainHttpServer({ httpServer: options.httpServer }) as ApolloServerPlugin<BaseContext>]
        : []),
      queryLimitsPlugin(config.graphql),
      fairnessPlugin(config),
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
  const cause = unwrapResolverError(error);
  if (isDatabaseUnavailable(cause)) {
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
 * specifies for application/json and as a federation gateway needs (it discards non-2xx subgraph
 * responses, with their paths and codes). Errors before execution (an unknown key, parse, validation,
 * limits) keep their status.
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

/** Logs one line per operation: request id, operation, tenant, duration, outcome; unexpected errors in full. */
function requestLoggingPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      const log = contextValue.logger ?? logger;
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            if (typeof code === 'string' && CLIENT_SAFE_CODES.has(code)) continue;
            log.error({ err: unwrapResolverError(error), path: error.path }, 'unexpected error while resolving');
          }
        },
        async willSendResponse({ response, operationName, errors }) {
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const codes = [
            ...new Set((errors ?? body?.errors ?? []).map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'))),
          ];
          log.info(
            {
              operationName: operationName ?? null,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              outcome: codes.length === 0 ? 'success' : codes.join(','),
            },
            'graphql request',
          );
        },
      };
    },
  };
}
