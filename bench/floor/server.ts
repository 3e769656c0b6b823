// convoql without Apollo Server: the same schema, resolvers, request context, DataLoaders and graphql-jit compiled
// operations as `npm start`, behind a bare node:http handler that parses and validates each query text once, coerces the
// variables and runs the compiled operation. No request pipeline, plugin hooks, query limits, fairness, metrics, logging
// or error masking. It is the floor of issue 22 (`npm run bench -- --floor`): what a request costs when Apollo Server's
// pipeline and convoql's plugins cost nothing, to measure against the lean baseline. Not a server to deploy.
//
// Environment: convoql's own (DATABASE_URL, DB_POOL_MAX, HOST, PORT, …), as the benchmark passes to `npm start`.
import 'reflect-metadata';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { openDatabase } from '../../src/db/open';
import { buildSchema } from '../../src/server/schema';
import { Authenticator } from '../../src/server/auth';
import { compiledOperations } from '../../src/server/compiled-execution';
import { createRequestContext } from '../../src/server/context';
import { API_KEY_CACHE_MS, applyRuntimeSettings } from '../../src/main';
import { readBody, send } from '../baseline/http';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  applyRuntimeSettings(config);
  const logger = createLogger(config);
  const database = await openDatabase(config, logger);
  const { db } = database;
  const schema = await buildSchema();
  const authenticator = new Authenticator(db, logger, API_KEY_CACHE_MS);
  const operations = compiledOperations(schema);
  const documents = new Map<string, { document: DocumentNode; definition: OperationDefinitionNode }>();

  const serveGraphQL = async (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.parse(await readBody(request)) as {
      query: string;
      operationName?: string;
      variables?: Record<string, unknown>;
    };
    let operation = documents.get(body.query);
    if (!operation) {
      const document = parse(body.query);
      const errors = validate(schema, document, specifiedRules);
      const definition = getOperationAST(document, body.operationName);
      if (errors.length > 0 || !definition) return send(response, 400, { errors: errors.map((error) => error.toJSON()) });
      documents.set(body.query, (operation = { document, definition }));
    }
    const viewer = await authenticator.authenticate(request.headers);
    const contextValue = createRequestContext({ db, config, logger, viewer });
    const variables = body.variables ?? {};
    const coerced = getVariableValues(schema, operation.definition.variableDefinitions ?? [], variables);
    if (coerced.errors) return send(response, 200, { errors: coerced.errors.map((error) => error.toJSON()) });
    send(response, 200, await operations.run({ ...operation, variables, coerced: coerced.coerced, contextValue }));
  };

  const server = createServer((request, response) => {
    if (request.url === '/healthz') return send(response, 200, { status: 'ok' });
    serveGraphQL(request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'floor server failed a request');
      send(response, 500, { errors: [{ message: 'Internal server error' }] });
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(config.http.port, config.http.host);
  const stop = () => server.close(() => void database.close().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
