import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLSchema } from 'graphql';
import type { DestinationStream } from 'pino';
import { createConfig, type Config, type Environment } from '../../src/config';
import { createDatabase, type Database } from '../../src/db/client';
import { buildSchema } from '../../src/server/schema';
import type { Scope } from '../../src/core/context';
import { Authenticator } from '../../src/server/auth';
import { startServer, type RunningServer } from '../../src/server/http';
import { createLogger } from '../../src/logger';
import { createApiKey, ensureTenant } from '../../src/api-keys/api-key.repository';
import { createTestDatabase, type TestDatabase } from './database';

/** A GraphQL response as a client receives it over HTTP. */
export interface GraphQLResponse<TData = Record<string, unknown>> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
  extensions?: Record<string, unknown>;
}

/** Request options: which API key and tenant header to send. */
export interface RequestOptions {
  apiKey?: string | null;
  tenant?: string;
  headers?: Record<string, string>;
}

/** A real convoql HTTP server on its own fresh database, for one test file. */
export interface TestServer {
  readonly url: string;
  /** Where the server serves /metrics. */
  readonly metricsUrl: string;
  readonly db: Database;
  /** The database it serves. */
  readonly database: TestDatabase;
  readonly config: Config;
  /** A read+write key of tenant "acme", sent by default. */
  readonly apiKey: string;
  /** Sends a GraphQL operation over HTTP: a typed document from test/generated, or a query string. */
  graphql<TData = Record<string, unknown>, TVariables = Record<string, unknown>>(
    query: string | TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
    options?: RequestOptions,
  ): Promise<GraphQLResponse<TData>>;
  /** Creates a tenant (if needed) and a key for it. */
  createKey(tenantId: string | null, scopes?: Scope[]): Promise<string>;
  close(): Promise<void>;
}

let schemaPromise: Promise<GraphQLSchema> | undefined;

/** How a test server runs beyond its environment variables. */
export interface TestServerOptions {
  /** Receives the server's log as JSON lines (set LOG_LEVEL in the environment; tests default to silent). */
  logDestination?: DestinationStream;
  /** How long a looked-up API key is reused; 0 (the default) so a revocation is visible to the next request. */
  apiKeyCacheMs?: number;
  /** Serve this database (another server's, to run two replicas on one database) instead of a fresh one; not dropped at close. */
  database?: TestDatabase;
}

/** Starts a server on a fresh migrated database with tenants acme and globex. */
export async function startTestServer(environment: Environment = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const shared = options.database;
  const database = shared ?? (await createTestDatabase());
  const config = createConfig({ DATABASE_URL: database.url, PORT: '0', ...environment });
  const db = createDatabase(database.url, {
    poolMax: process.env.TEST_DATABASE_URL ? 4 : 1,
    preparedStatements: !!process.env.TEST_DATABASE_URL,
  });
  const logger = createLogger(config, options.logDestination);
  const schema = await (schemaPromise ??= buildSchema());
  // No key cache by default, so a revocation is visible to the next request.
  const authenticator = new Authenticator(db, logger, options.apiKeyCacheMs ?? 0);
  const server: RunningServer = await startServer({ config, logger, db, schema, authenticator, liveEvents: database.liveEvents() });
  if (!shared) await ensureTenant(db, 'acme', 'Acme Inc.');
  if (!shared) await ensureTenant(db, 'globex', 'Globex Corporation');
  const createKey = async (tenantId: string | null, scopes: Scope[] = ['read', 'write']) => {
    if (tenantId) await ensureTenant(db, tenantId, tenantId);
    return (await createApiKey(db, { tenantId, name: `test ${scopes.join('+')}`, scopes })).key;
  };
  const apiKey = await createKey('acme');
  return {
    url: server.url,
    metricsUrl: server.metricsUrl,
    database,
    db,
    config,
    apiKey,
    createKey,
    async graphql(query, variables, options = {}) {
      const key = options.apiKey === undefined ? apiKey : options.apiKey;
      const response = await fetch(server.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(options.tenant ? { 'x-tenant-id': options.tenant } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query: typeof query === 'string' ? query : print(query), variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    async close() {
      // Apollo's drain waits for requests in flight and closes idle keep-alive sockets.
      await server.close();
      server.httpServer.closeAllConnections();
      await db.close();
      if (!shared) await database.drop();
    },
  };
}
