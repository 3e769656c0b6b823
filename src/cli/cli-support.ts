import { ConfigError, loadConfig, type Config } from '../config';
import type { TenantContext } from '../core/context';
import type { Database } from '../db/client';
import { openDatabase, StartupError, type OpenedDatabase } from '../db/open';
import { createLogger, type Logger } from '../logger';

/** A mistake on the command line or in what it names (an unknown tenant); its message is one line saying what to do. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An error's message on one line: the whole of an expected failure, prefixed for anything else. */
export function describeCliError(error: unknown, command: string): string {
  const expected = error instanceof UsageError || error instanceof ConfigError || error instanceof StartupError;
  const message = oneLine(error);
  return expected ? message : `convoql ${command}: ${message}`;
}

/** A message folded onto one line. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

/** host:port/database of a PostgreSQL URL; never the password. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/** The configuration from the environment; tools log only warnings unless LOG_LEVEL says otherwise. */
export function cliConfig(): Config {
  return loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
}

/** Opens the configured database (refusing one that is not migrated, in one line), runs `work`, and closes it. */
export async function withDatabase<T>(config: Config, work: (database: OpenedDatabase, logger: Logger) => Promise<T>): Promise<T> {
  const logger = createLogger(config);
  const database = await openDatabase(config, logger);
  try {
    return await work(database, logger);
  } finally {
    await database.close();
  }
}

/** Fails with a line naming the tenant and how to create it when it does not exist. */
export async function assertTenantExists(db: Database, tenantId: string, namedBy: string): Promise<void> {
  if (await db.prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } })) return;
  throw new UsageError(
    `${namedBy} names tenant "${tenantId}", which does not exist: create it with \`npx convoql tenant create ${tenantId} --name "<display name>"\` ` +
      'or name an existing one (`npx convoql tenant list`).',
  );
}

/** A context acting for one tenant, as a command-line tool (an operator) does: what repositories take first. */
export function cliTenantContext(
  db: Database,
  config: Config,
  logger: Logger,
  tenantId: string,
  tool: string,
  /** Where its reads go (a read replica), when not to `db`, the primary. */
  reader: Database = db,
): TenantContext {
  return {
    requestId: `cli-${tool}-${process.pid}`,
    viewer: { apiKeyId: 'cli', apiKeyName: `convoql ${tool}`, scopes: new Set(['read', 'write', 'admin']), tenantId, isAdminKey: true },
    db: reader,
    primary: db,
    config,
    logger,
    metrics: null,
  };
}
