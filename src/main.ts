import 'reflect-metadata';
import { ConfigError, loadConfig } from './config';
import { ensureDemoApiKey, seedDemoDataIfEmpty, DEMO_TENANT } from './db/demo';
import { openDatabase, StartupError } from './db/open';
import { buildSchema } from './graphql/schema';
import { Authenticator } from './server/auth';
import { ListenError, startServer } from './server/http';
import { createLogger } from './server/logger';

/** How long API key lookups are cached; revocation takes effect within this time. */
const API_KEY_CACHE_MS = 30_000;

/** Starts convoql: configuration, database (embedded by default), schema, HTTP server, shutdown hooks. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.slice(2));
  const logger = createLogger(config);
  const database = await openDatabase(config, logger, async (connectionString, embedded) => {
    if (embedded) await seedDemoDataIfEmpty(connectionString, logger);
  });
  const schema = await buildSchema();
  const authenticator = new Authenticator(database.db, logger, API_KEY_CACHE_MS);
  const server = await startServer({ config, logger, db: database.db, schema, authenticator });
  logger.info({ url: server.url }, 'convoql is serving GraphQL');
  if (database.embedded) {
    const key = await ensureDemoApiKey(database.db, config.database.dataDir);
    logger.info({ tenant: DEMO_TENANT }, `demo API key (embedded database only): ${key}`);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const forced = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000).unref();
    await server.close();
    await database.close();
    clearTimeout(forced);
    logger.info('stopped');
    logger.flush?.();
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  const expected = error instanceof ConfigError || error instanceof StartupError || error instanceof ListenError;
  process.stderr.write(`convoql: ${expected ? (error as Error).message : `failed to start: ${(error as Error)?.message ?? String(error)}`}\n`);
  process.exit(1);
});
