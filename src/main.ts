import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, loadConfig, type Config, type Environment } from './config';
import { ensureDemoApiKey, seedDemoDataIfEmpty, DEMO_TENANT } from './server/demo';
import { openDatabase, StartupError } from './db/open';
import { buildSchema } from './server/schema';
import { Authenticator } from './server/auth';
import { ListenError, startServer } from './server/http';
import { JobScheduler } from './core/jobs';
import { sessionExpiryJob } from './sessions/session-expiry.job';
import { conversationSyncJob } from './conversations/conversation-sync.job';
import { createLogger } from './logger';
import { LIVE_EVENTS_CHANNEL, listenOnPostgres } from './db/notifications';

/** How long API key lookups are cached; revocation takes effect within this time. */
export const API_KEY_CACHE_MS = 30_000;

/** A started convoql. */
export interface App {
  readonly url: string;
  /** The demo tenant's key on the embedded default, else undefined. */
  readonly demoApiKey: string | undefined;
  /** Stops accepting requests, finishes in-flight ones, closes the database; idempotent. */
  stop(): Promise<void>;
}

/**
 * The process settings the configuration asks for. V8 lets the heap grow to up to 4× what survived a full GC, so under
 * load a server whose live heap is ~40 MB sat at 250–300 MB of RSS; 1.3× holds it under 200 MB at the same throughput
 * (see README, Operating). V8 reads this flag whenever it sets a new heap limit, so setting it at run time applies.
 */
export function applyRuntimeSettings(config: Config): void {
  if (config.runtime.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.runtime.heapGrowingPercent}`);
}

/** Starts convoql: configuration, database (embedded by default), schema, HTTP server. */
export async function start(environment: Environment = process.env, argv: readonly string[] = []): Promise<App> {
  const config = loadConfig(environment, argv);
  applyRuntimeSettings(config);
  const logger = createLogger(config);
  const database = await openDatabase(config, logger, {
    beforeClient: async (connectionString, embedded) => {
      if (embedded) await seedDemoDataIfEmpty(connectionString, logger);
    },
    // A deploy may start the new version before its migration step: it serves and reports not ready on /readyz.
    allowPendingMigrations: true,
  });
  try {
    const demoApiKey = database.embedded ? await ensureDemoApiKey(database.db, config.database.dataDir) : undefined;
    const schema = await buildSchema();
    const authenticator = new Authenticator(database.db, logger, API_KEY_CACHE_MS);
    const liveEvents = database.embedded?.liveEvents ?? listenOnPostgres(database.connectionString, LIVE_EVENTS_CHANNEL, logger);
    const server = await startServer({ config, logger, db: database.db, schema, authenticator, demoApiKey, liveEvents });
    const jobs = new JobScheduler([sessionExpiryJob(database.db, config), conversationSyncJob(database.db, config)], logger);
    jobs.start();
    logger.info({ url: server.url, metricsUrl: server.metricsUrl }, 'convoql is serving GraphQL');
    // Printed for the person who just ran `npm start`, never logged: logs keep no API key.
    if (demoApiKey)
      process.stdout.write(
        `\nDemo API key for tenant "${DEMO_TENANT}" (embedded database only):\n  ${demoApiKey}\nGraphiQL: ${server.url.replace(/\/graphql$/, '/graphiql')}\n\n`,
      );
    let stopping: Promise<void> | undefined;
    return {
      url: server.url,
      demoApiKey,
      stop: () =>
        (stopping ??= (async () => {
          await server.close();
          await jobs.stop();
          await database.close();
          logger.info('stopped');
        })()),
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** The one line printed when start-up fails: the message of an expected failure, never a stack trace. */
export function describeStartupError(error: unknown): string {
  const expected = error instanceof ConfigError || error instanceof StartupError || error instanceof ListenError;
  const message = error instanceof Error ? error.message : String(error);
  return `convoql: ${expected ? message : `failed to start: ${message}`}`.split('\n')[0]!;
}

if (require.main === module) {
  start(process.env, process.argv.slice(2)).then(
    (app) => {
      const shutdown = () => {
        const forced = setTimeout(() => {
          process.stderr.write('convoql: shutdown took longer than 10 s; exiting\n');
          process.exit(1);
        }, 10_000).unref();
        void app.stop().then(() => clearTimeout(forced));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (error: unknown) => {
      process.stderr.write(`${describeStartupError(error)}\n`);
      process.exit(1);
    },
  );
}
