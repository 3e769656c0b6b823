import { z } from 'zod';

/** Thrown when the environment does not describe a valid configuration; its message is one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: 'expected an integer' })
    .int({ error: 'expected an integer' })
    .min(min, { error: `expected an integer >= ${min}` })
    .max(max, { error: `expected an integer <= ${max}` });

const postgresUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'expected a URL like postgres://user:password@host:5432/database' },
);

const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'expected a URL like redis://127.0.0.1:6379 or rediss://user:password@host:6380/0' },
);

/** Bytes of a size like `100kb` (a kilobyte is 1024 bytes, as Express counts). */
function bytesOfSize(size: string): number {
  const [, digits, unit] = /^(\d+)(b|kb|mb)$/i.exec(size)!;
  return Number(digits) * { b: 1, kb: 1024, mb: 1024 * 1024 }[unit!.toLowerCase() as 'b' | 'kb' | 'mb'];
}

/** Price of one million tokens of a model, in USD. */
const modelPrice = z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() });

const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: integer(0, 65535).default(4000),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  MIGRATE_ON_START: booleanFromString.default(false),
  DB_POOL_MAX: integer(1, 200).default(10),
  DATABASE_READ_URL: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((url) => url.trim())
        .filter((url) => url !== ''),
    )
    .pipe(z.array(postgresUrl).max(16, { error: 'expected at most 16 replica URLs' }))
    .optional(),
  DATABASE_READ_POOL_MAX: integer(1, 200).optional(),
  DATABASE_READ_CHECK_INTERVAL_MS: integer(100, 60_000).default(1000),
  DATABASE_READ_CHECK_TIMEOUT_MS: integer(100, 60_000).default(1000),
  DB_PREPARED_STATEMENTS: booleanFromString.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  GRAPHQL_INTROSPECTION: booleanFromString.default(true),
  // 15 is the depth of graphql-js's standard introspection query (GraphiQL's schema fetch); lower breaks GraphiQL.
  MAX_QUERY_DEPTH: integer(2, 100).default(15),
  MAX_QUERY_ALIASES: integer(1, 1000).default(30),
  MAX_QUERY_TOKENS: integer(10, 100_000).default(3000),
  MAX_QUERY_COST: integer(1, 10_000_000).default(20_000),
  COST_BUDGET_MAX: integer(0, 1_000_000_000).default(100_000),
  COST_BUDGET_RESTORE_RATE: integer(1, 1_000_000_000).default(10_000),
  MAX_TENANT_CONCURRENCY: integer(0, 1000).optional(),
  TENANT_QUEUE_LENGTH: integer(0, 10_000).optional(),
  MAX_TENANT_COST_IN_FLIGHT: integer(1, 100_000_000).optional(),
  COSTLY_OPERATION_COST: integer(1, 100_000_000).optional(),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, { error: 'expected a size like 100kb or 1mb' })
    .default('100kb')
    .transform(bytesOfSize),
  SESSION_IDLE_TIMEOUT_MINUTES: integer(1, 525_600).default(30),
  SESSION_EXPIRY_INTERVAL_SECONDS: integer(0, 86_400).default(60),
  CONVERSATION_SYNC_INTERVAL_SECONDS: integer(0, 86_400).default(30),
  CONVERSATION_TENANT_METADATA_KEY: z.string().min(1).default('tenant_id'),
  CONVERSATION_DEFAULT_TENANT: z.string().min(1).optional(),
  MODEL_PRICES: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'expected JSON like {"gpt-4o":{"input":2.5,"output":10}}' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), modelPrice))
    .optional(),
  USAGE_CACHE_SECONDS: integer(0, 86_400).default(30),
  // An identifier, since it is written into SQL as a literal (the text-search index is an expression over it).
  TEXT_SEARCH_CONFIG: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'expected a PostgreSQL text search configuration name like simple or english' })
    .default('simple'),
  SEARCH_COUNT_LIMIT: integer(1, 1_000_000).default(10_000),
  INGEST_MAX_CONTENT_BYTES: integer(1, 10 * 1024 * 1024).default(64 * 1024),
  INGEST_MAX_METADATA_BYTES: integer(2, 1024 * 1024).default(16 * 1024),
  INGEST_MAX_METADATA_DEPTH: integer(1, 100).default(10),
  INGEST_MAX_FUTURE_SECONDS: integer(0, 86_400).default(300),
  LOAD_PER_FIELD: booleanFromString.default(false),
  HEAP_GROWING_PERCENT: integer(0, 1000).default(30),
  METRICS_TOKEN: z.string().min(16, { error: 'expected a token of at least 16 characters' }).optional(),
  METRICS_HOST: z.string().min(1).optional(),
  METRICS_PORT: integer(0, 65535).optional(),
  METRICS_MAX_OPERATIONS: integer(1, 10_000).default(100),
  LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: integer(1, 10_000).default(50),
  LIVE_MAX_SUBSCRIPTIONS_PER_KEY: integer(1, 1_000_000).default(500),
  LIVE_SEND_QUEUE_LENGTH: integer(1, 1_000_000).default(1000),
  LIVE_KEEPALIVE_SECONDS: integer(0, 3600).default(12),
  REDIS_URL: redisUrl.optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,100}$/, { error: 'expected 1-100 letters, digits or : _ . - like convoql:' })
    .default('convoql:'),
  REDIS_COMMAND_TIMEOUT_MS: integer(10, 60_000).default(500),
});

/** Prices per million tokens used when MODEL_PRICES is not set. */
const DEFAULT_MODEL_PRICES: Record<string, z.infer<typeof modelPrice>> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-haiku-4': { input: 0.8, output: 4 },
};

/** convoql's whole configuration, validated and frozen. */
export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly database: {
    /** A PostgreSQL URL, or undefined for the embedded PGlite in dataDir. */
    readonly url: string | undefined;
    readonly dataDir: string;
    readonly migrateOnStart: boolean;
    readonly poolMax: number;
    /**
     * Whether the hot reads are named prepared statements, parsed and planned once per connection (DB_PREPARED_STATEMENTS,
     * default true); off for a pooler in transaction mode that cannot keep them (PgBouncer before 1.21).
     */
    readonly preparedStatements: boolean;
    /**
     * Streaming replicas of `url` that queries read from (DATABASE_READ_URL, comma-separated); empty reads everything
     * from the primary. Mutations, jobs and subscriptions always use the primary (docs/decisions/0012).
     */
    readonly readUrls: readonly string[];
    /** Connections of each replica's pool (DATABASE_READ_POOL_MAX; default DB_POOL_MAX). */
    readonly readPoolMax: number;
    /** How often each replica is checked with `SELECT 1` (DATABASE_READ_CHECK_INTERVAL_MS, default 1000). */
    readonly readCheckIntervalMs: number;
    /** How long a check may take, connecting included, before the replica counts as down (DATABASE_READ_CHECK_TIMEOUT_MS, default 1000). */
    readonly readCheckTimeoutMs: number;
  };
  readonly log: { readonly level: string; readonly format: 'auto' | 'json' | 'pretty' };
  readonly graphql: {
    readonly introspection: boolean;
    /** Most fields on one path from the root (MAX_QUERY_DEPTH); GraphiQL's introspection query needs 15. */
    readonly maxDepth: number;
    /** Most aliased fields in one operation, counted at every fragment spread (MAX_QUERY_ALIASES). */
    readonly maxAliases: number;
    /** Most lexical tokens in one document, comments excluded (MAX_QUERY_TOKENS); the parser stops there. */
    readonly maxTokens: number;
    /** Highest cost of one operation (MAX_QUERY_COST): 1 per field, a connection's selection times its page size. */
    readonly maxCost: number;
    /** Benchmark only: every field loads on its own, without DataLoader batching or prefetch by root resolvers, to measure what they buy. */
    readonly loadPerField: boolean;
  };
  readonly fairness: {
    /** Cost points an API key's bucket holds when full (COST_BUDGET_MAX); 0 disables the budget. */
    readonly budgetMaximum: number;
    /** Cost points restored to each bucket per second (COST_BUDGET_RESTORE_RATE). */
    readonly budgetRestoreRate: number;
    /** Operations of one tenant in flight at once (MAX_TENANT_CONCURRENCY); 0 disables the cap. */
    readonly tenantConcurrency: number;
    /** Operations of one tenant that wait for a slot, at most 5 s, before THROTTLED (TENANT_QUEUE_LENGTH). */
    readonly tenantQueueLength: number;
    /** Most cost of one tenant's operations in flight together (MAX_TENANT_COST_IN_FLIGHT; default MAX_QUERY_COST). */
    readonly tenantCostInFlight: number;
    /**
     * Cost from which an operation holds back, up to 1 s, while other tenants have operations running
     * (COSTLY_OPERATION_COST; default a quarter of MAX_QUERY_COST, five times a 50-row sessions table).
     */
    readonly costlyOperation: number;
  };
  readonly jobs: {
    readonly sessionIdleTimeoutMinutes: number;
    /** 0 disables the job. */
    readonly sessionExpiryIntervalSeconds: number;
    /** 0 disables the job. */
    readonly conversationSyncIntervalSeconds: number;
  };
  readonly conversations: {
    readonly tenantMetadataKey: string;
    readonly defaultTenant: string | undefined;
    readonly modelPrices: Readonly<Record<string, { readonly input: number; readonly output: number }>>;
  };
  readonly runtime: {
    /** How far V8 lets the heap grow past what survived the last full GC, in percent; 0 keeps V8's own (up to 300). */
    readonly heapGrowingPercent: number;
  };
  readonly search: {
    /**
     * PostgreSQL text search configuration of every full-text filter and search (TEXT_SEARCH_CONFIG): `simple` by default, which
     * lower-cases words without stemming or stop words, so text of any language matches as written. Messages store
     * and index their `simple` document (`content_tsv`); another value searches the expression
     * `to_tsvector('<config>'::regconfig, content)`, which needs its own index.
     */
    readonly textSearchConfig: string;
    /**
     * Most matches a search reads (SEARCH_COUNT_LIMIT, default 10,000): `searchMessages.totalCount` counts at most this
     * many (then `totalCountIsExact` is false) and RELEVANCE ranks the newest this many matches (docs/decisions/0016).
     */
    readonly countLimit: number;
  };
  readonly ingest: {
    /** Largest message content appendMessages accepts, in UTF-8 bytes (INGEST_MAX_CONTENT_BYTES). */
    readonly maxContentBytes: number;
    /** Largest session or message metadata upsertSession and appendMessages accept, in UTF-8 bytes of its JSON (INGEST_MAX_METADATA_BYTES). */
    readonly maxMetadataBytes: number;
    /** Deepest nesting of objects and arrays in written metadata (INGEST_MAX_METADATA_DEPTH; `{"a": {"b": 1}}` is 2). */
    readonly maxMetadataDepth: number;
    /** How far past the server's clock a written `createdAt` or `startedAt` may be, in seconds (INGEST_MAX_FUTURE_SECONDS). */
    readonly maxFutureSeconds: number;
  };
  readonly analytics: {
    /** How long a finished usage result is reused for the same tenant and arguments; 0 disables reuse (not sharing in flight). */
    readonly usageCacheSeconds: number;
  };
  readonly metrics: {
    /** Bearer token a scrape of /metrics must send (METRICS_TOKEN); undefined serves /metrics to anyone who reaches it. */
    readonly token: string | undefined;
    /** A listen address of its own for /metrics (METRICS_HOST, METRICS_PORT); undefined serves it on the API's port. */
    readonly listen: { readonly host: string; readonly port: number } | undefined;
    /** Operation names counted under their own label (METRICS_MAX_OPERATIONS); later names count as `other`. */
    readonly maxOperations: number;
  };
  /** GraphQL subscriptions over WebSocket (graphql-ws on /graphql). */
  readonly live: {
    /** Subscriptions one socket may hold at once (LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION). */
    readonly maxSubscriptionsPerConnection: number;
    /** Subscriptions one API key may hold at once in this process, over all its sockets (LIVE_MAX_SUBSCRIPTIONS_PER_KEY). */
    readonly maxSubscriptionsPerKey: number;
    /**
     * Events one socket may have waiting to be sent (LIVE_SEND_QUEUE_LENGTH); a socket whose client reads too slowly
     * to stay under it is closed with code 4413.
     */
    readonly sendQueueLength: number;
    /** Seconds between WebSocket pings; a socket that does not answer one within as long is closed (0: no pings). */
    readonly keepAliveSeconds: number;
  };
  /**
   * Where the state shared by all server processes lives (REDIS_URL): the keys' cost budgets, usage results, persisted
   * queries and key revocations. Undefined keeps each in its own process. A Redis that does not answer is the same,
   * for as long as it does not answer.
   */
  readonly redis: {
    readonly url: string;
    /** Prefix of every key and channel convoql uses (REDIS_KEY_PREFIX), so several deployments can share one Redis. */
    readonly keyPrefix: string;
    /** How long a command may take before Redis counts as down and per-process state takes over (REDIS_COMMAND_TIMEOUT_MS). */
    readonly commandTimeoutMs: number;
  } | null;
}

/** Environment variables as data; tests pass their own instead of touching process.env. */
export type Environment = Record<string, string | undefined>;

/** Reads and validates configuration from environment variables; throws ConfigError with one line. */
export function loadConfig(environment: Environment = process.env, argv: readonly string[] = []): Config {
  // An empty variable means "not set", as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = issue.path.join('.');
    const received = present[variable];
    // A URL of a comma-separated list is named by its place in it (never shown: it may hold a password).
    const listed = issue.path[0] === 'DATABASE_READ_URL' && issue.path.length > 1;
    throw new ConfigError(
      `Invalid configuration: ${listed ? `DATABASE_READ_URL (URL ${Number(issue.path[1]) + 1} of the list)` : variable} ${issue.message}` +
        (received !== undefined && !/URL|PRICES|TOKEN/.test(variable) ? `, received "${received}"` : ''),
    );
  }
  const e = parsed.data;
  if (e.METRICS_HOST !== undefined && e.METRICS_PORT === undefined) {
    throw new ConfigError(
      `Invalid configuration: METRICS_HOST needs METRICS_PORT, the port /metrics listens on; received only METRICS_HOST`,
    );
  }
  if (e.COST_BUDGET_MAX > 0 && e.COST_BUDGET_MAX < e.MAX_QUERY_COST) {
    throw new ConfigError(
      `Invalid configuration: COST_BUDGET_MAX expected 0 (no budget) or at least MAX_QUERY_COST (${e.MAX_QUERY_COST}), ` +
        `so that every admitted operation fits a full budget, received "${e.COST_BUDGET_MAX}"`,
    );
  }
  if (e.DATABASE_READ_URL?.length && !e.DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration: DATABASE_READ_URL needs DATABASE_URL, the primary its replicas stream from; the embedded PGlite has no replicas',
    );
  }
  // Half the pool: one tenant's slow operations leave the other half to everyone else.
  const tenantConcurrency = e.MAX_TENANT_CONCURRENCY ?? Math.max(1, Math.floor(e.DB_POOL_MAX / 2));
  return deepFreeze({
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, bodyLimitBytes: e.BODY_LIMIT },
    database: {
      url: e.DATABASE_URL,
      dataDir: e.DATA_DIR,
      migrateOnStart: e.MIGRATE_ON_START || argv.includes('--migrate'),
      poolMax: e.DB_POOL_MAX,
      preparedStatements: e.DB_PREPARED_STATEMENTS,
      readUrls: e.DATABASE_READ_URL ?? [],
      readPoolMax: e.DATABASE_READ_POOL_MAX ?? e.DB_POOL_MAX,
      readCheckIntervalMs: e.DATABASE_READ_CHECK_INTERVAL_MS,
      readCheckTimeoutMs: e.DATABASE_READ_CHECK_TIMEOUT_MS,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION,
      maxDepth: e.MAX_QUERY_DEPTH,
      maxAliases: e.MAX_QUERY_ALIASES,
      maxTokens: e.MAX_QUERY_TOKENS,
      maxCost: e.MAX_QUERY_COST,
      loadPerField: e.LOAD_PER_FIELD,
    },
    fairness: {
      budgetMaximum: e.COST_BUDGET_MAX,
      budgetRestoreRate: e.COST_BUDGET_RESTORE_RATE,
      tenantConcurrency,
      // Waiting costs a pending request, not CPU; refusing at once made a client with many connections spin.
      tenantQueueLength: e.TENANT_QUEUE_LENGTH ?? 100,
      // One operation at the cost limit at a time, or many cheap ones.
      tenantCostInFlight: e.MAX_TENANT_COST_IN_FLIGHT ?? e.MAX_QUERY_COST,
      costlyOperation: e.COSTLY_OPERATION_COST ?? Math.ceil(e.MAX_QUERY_COST / 4),
    },
    jobs: {
      sessionIdleTimeoutMinutes: e.SESSION_IDLE_TIMEOUT_MINUTES,
      sessionExpiryIntervalSeconds: e.SESSION_EXPIRY_INTERVAL_SECONDS,
      conversationSyncIntervalSeconds: e.CONVERSATION_SYNC_INTERVAL_SECONDS,
    },
    conversations: {
      tenantMetadataKey: e.CONVERSATION_TENANT_METADATA_KEY,
      defaultTenant: e.CONVERSATION_DEFAULT_TENANT,
      modelPrices: e.MODEL_PRICES ?? DEFAULT_MODEL_PRICES,
    },
    ingest: {
      maxContentBytes: e.INGEST_MAX_CONTENT_BYTES,
      maxMetadataBytes: e.INGEST_MAX_METADATA_BYTES,
      maxMetadataDepth: e.INGEST_MAX_METADATA_DEPTH,
      maxFutureSeconds: e.INGEST_MAX_FUTURE_SECONDS,
    },
    analytics: { usageCacheSeconds: e.USAGE_CACHE_SECONDS },
    search: { textSearchConfig: e.TEXT_SEARCH_CONFIG, countLimit: e.SEARCH_COUNT_LIMIT },
    runtime: { heapGrowingPercent: e.HEAP_GROWING_PERCENT },
    metrics: {
      token: e.METRICS_TOKEN,
      listen: e.METRICS_PORT === undefined ? undefined : { host: e.METRICS_HOST ?? e.HOST, port: e.METRICS_PORT },
      maxOperations: e.METRICS_MAX_OPERATIONS,
    },
    live: {
      maxSubscriptionsPerConnection: e.LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxSubscriptionsPerKey: e.LIVE_MAX_SUBSCRIPTIONS_PER_KEY,
      sendQueueLength: e.LIVE_SEND_QUEUE_LENGTH,
      keepAliveSeconds: e.LIVE_KEEPALIVE_SECONDS,
    },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS } : null,
  });
}

/** Builds a configuration for tests and tools: defaults plus the given variables. */
export function createConfig(overrides: Environment = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
