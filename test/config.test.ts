import { ConfigError, createConfig, loadConfig } from '../src/config';

describe('configuration', () => {
  it('defaults to the embedded database on 127.0.0.1:4000', () => {
    const config = loadConfig({});
    expect(config.database.url).toBeUndefined();
    expect(config.database.dataDir).toBe('./.data');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 4000, bodyLimitBytes: 102_400 });
    expect(config.env).toBe('production');
    expect(Object.isFrozen(config.graphql)).toBe(true);
  });

  it('reads every variable it documents', () => {
    const config = createConfig({
      DATABASE_URL: 'postgres://user:secret@db.internal:5433/convoql',
      PORT: '8080',
      HOST: '0.0.0.0',
      MIGRATE_ON_START: 'true',
      MODEL_PRICES: '{"m":{"input":1,"output":2}}',
      CONVERSATION_DEFAULT_TENANT: 'acme',
      LOAD_PER_FIELD: 'true',
      USAGE_CACHE_SECONDS: '0',
      HEAP_GROWING_PERCENT: '0',
      TEXT_SEARCH_CONFIG: 'english',
      SEARCH_COUNT_LIMIT: '500',
    });
    expect(config.database).toMatchObject({ url: 'postgres://user:secret@db.internal:5433/convoql', migrateOnStart: true });
    expect(config.http.port).toBe(8080);
    expect(config.runtime.heapGrowingPercent).toBe(0);
    expect(loadConfig({}).runtime.heapGrowingPercent).toBe(30);
    expect(config.conversations.modelPrices).toEqual({ m: { input: 1, output: 2 } });
    expect(config.conversations.defaultTenant).toBe('acme');
    expect(config.graphql.loadPerField).toBe(true);
    expect(config.analytics.usageCacheSeconds).toBe(0);
    expect(loadConfig({}).analytics.usageCacheSeconds).toBe(30);
    expect(config.search.textSearchConfig).toBe('english');
    expect(loadConfig({}).search.textSearchConfig).toBe('simple');
    expect(config.search.countLimit).toBe(500);
    expect(loadConfig({}).search.countLimit).toBe(10_000);
  });

  it('turns on migrations with --migrate', () => {
    expect(loadConfig({}, ['--migrate']).database.migrateOnStart).toBe(true);
  });

  it.each([
    [
      { DATABASE_URL: 'mysql://localhost/x' },
      'Invalid configuration: DATABASE_URL expected a URL like postgres://user:password@host:5432/database',
    ],
    [{ DATABASE_URL: 'not a url' }, 'Invalid configuration: DATABASE_URL expected a URL like postgres://user:password@host:5432/database'],
    [{ PORT: '99999' }, 'Invalid configuration: PORT expected an integer <= 65535, received "99999"'],
    [{ PORT: 'eighty' }, 'Invalid configuration: PORT expected an integer, received "eighty"'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid configuration: LOG_LEVEL'],
    [{ MIGRATE_ON_START: 'maybe' }, 'Invalid configuration: MIGRATE_ON_START expected true or false, received "maybe"'],
    [{ MODEL_PRICES: '{oops' }, 'Invalid configuration: MODEL_PRICES expected JSON'],
    [{ USAGE_CACHE_SECONDS: '-1' }, 'Invalid configuration: USAGE_CACHE_SECONDS expected an integer >= 0, received "-1"'],
    [
      { TEXT_SEARCH_CONFIG: "simple'; --" },
      'Invalid configuration: TEXT_SEARCH_CONFIG expected a PostgreSQL text search configuration name like simple or english',
    ],
    [{ SEARCH_COUNT_LIMIT: '0' }, 'Invalid configuration: SEARCH_COUNT_LIMIT expected an integer >= 1, received "0"'],
    [{ SEARCH_COUNT_LIMIT: 'all' }, 'Invalid configuration: SEARCH_COUNT_LIMIT expected an integer, received "all"'],
    [{ HEAP_GROWING_PERCENT: '5000' }, 'Invalid configuration: HEAP_GROWING_PERCENT expected an integer <= 1000, received "5000"'],
  ])('rejects %j in one line', (environment, message) => {
    let error: unknown;
    try {
      loadConfig(environment);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message.startsWith(message)).toBe(true);
    expect((error as Error).message).not.toContain('\n');
  });

  it('reads the read replicas: a comma-separated DATABASE_READ_URL, their pool and checks', () => {
    expect(loadConfig({}).database).toMatchObject({ readUrls: [], readPoolMax: 10, readCheckIntervalMs: 1000, readCheckTimeoutMs: 1000 });
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@primary/convoql',
      DATABASE_READ_URL: 'postgres://u@replica-1/convoql, postgresql://u@replica-2:5433/convoql,',
      DB_POOL_MAX: '20',
      DATABASE_READ_CHECK_INTERVAL_MS: '500',
      DATABASE_READ_CHECK_TIMEOUT_MS: '300',
    });
    expect(config.database).toMatchObject({
      readUrls: ['postgres://u@replica-1/convoql', 'postgresql://u@replica-2:5433/convoql'],
      readPoolMax: 20,
      readCheckIntervalMs: 500,
      readCheckTimeoutMs: 300,
    });
    expect(
      loadConfig({ DATABASE_URL: 'postgres://u@p/c', DATABASE_READ_URL: 'postgres://u@r/c', DATABASE_READ_POOL_MAX: '4' }).database
        .readPoolMax,
    ).toBe(4);
  });

  it.each([
    [
      { DATABASE_URL: 'postgres://u@p/c', DATABASE_READ_URL: 'postgres://u@r1/c,mysql://u:hunter2@r2/c' },
      'Invalid configuration: DATABASE_READ_URL (URL 2 of the list) expected a URL like postgres://user:password@host:5432/database',
    ],
    [
      { DATABASE_READ_URL: 'postgres://u@r/c' },
      'Invalid configuration: DATABASE_READ_URL needs DATABASE_URL, the primary its replicas stream from',
    ],
    [
      { DATABASE_URL: 'postgres://u@p/c', DATABASE_READ_CHECK_INTERVAL_MS: '10' },
      'Invalid configuration: DATABASE_READ_CHECK_INTERVAL_MS expected an integer >= 100, received "10"',
    ],
  ])('rejects the read replica setting %j in one line, without a password', (environment, message) => {
    expect(() => loadConfig(environment)).toThrow(ConfigError);
    expect(() => loadConfig(environment)).toThrow(message);
    expect(() => loadConfig(environment)).toThrow(/^(?!.*hunter2)[^\n]*$/);
  });

  it('reads where shared state lives (REDIS_URL), and keeps it per process without', () => {
    expect(loadConfig({}).redis).toBeNull();
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'convoql:',
      commandTimeoutMs: 500,
    });
    expect(
      loadConfig({ REDIS_URL: 'rediss://u:p@cache.internal:6380/2', REDIS_KEY_PREFIX: 'eu-1:', REDIS_COMMAND_TIMEOUT_MS: '100' }).redis,
    ).toEqual({ url: 'rediss://u:p@cache.internal:6380/2', keyPrefix: 'eu-1:', commandTimeoutMs: 100 });
  });

  it.each([
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'Invalid configuration: REDIS_URL expected a URL like redis://127.0.0.1:6379'],
    [{ REDIS_URL: 'redis://' }, 'Invalid configuration: REDIS_URL expected a URL like redis://127.0.0.1:6379'],
    [{ REDIS_URL: 'redis://h', REDIS_KEY_PREFIX: 'has space' }, 'Invalid configuration: REDIS_KEY_PREFIX expected 1-100 letters'],
    [
      { REDIS_URL: 'redis://h', REDIS_COMMAND_TIMEOUT_MS: '0' },
      'Invalid configuration: REDIS_COMMAND_TIMEOUT_MS expected an integer >= 10',
    ],
  ])('rejects %j in one line, never echoing a Redis password', (environment, message) => {
    expect(() => loadConfig(environment)).toThrow(message);
    expect(() => loadConfig({ REDIS_URL: 'http://u:hunter2@h' })).toThrow(/^(?!.*hunter2)/);
  });

  it('never echoes a database password in an error', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:hunter2@' })).toThrow(/^(?!.*hunter2)/);
  });

  it('reads how /metrics is protected and how many operation names it labels', () => {
    expect(loadConfig({}).metrics).toEqual({ token: undefined, listen: undefined, maxOperations: 100 });
    expect(
      loadConfig({ HOST: '0.0.0.0', METRICS_PORT: '9464', METRICS_TOKEN: 'a'.repeat(16), METRICS_MAX_OPERATIONS: '20' }).metrics,
    ).toEqual({
      token: 'a'.repeat(16),
      listen: { host: '0.0.0.0', port: 9464 },
      maxOperations: 20,
    });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' }).metrics.listen).toEqual({ host: '10.0.0.5', port: 9464 });
    expect(() => loadConfig({ METRICS_HOST: '10.0.0.5' })).toThrow('Invalid configuration: METRICS_HOST needs METRICS_PORT');
    expect(() => loadConfig({ METRICS_MAX_OPERATIONS: '0' })).toThrow(
      'Invalid configuration: METRICS_MAX_OPERATIONS expected an integer >= 1, received "0"',
    );
    // A short token is refused, and not repeated in the message.
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).toThrow(
      /^Invalid configuration: METRICS_TOKEN expected a token of at least 16 characters$/,
    );
  });
});
