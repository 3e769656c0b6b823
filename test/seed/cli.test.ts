import { SEED_DEFAULTS } from '../../prisma/seed';
import { parseSeedArgs } from '../../src/cli/seed';
import { ensureCliBuilt, runCli } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

describe('db:seed command line', () => {
  it('reads every option, in both --flag value and --flag=value forms', () => {
    const options = parseSeedArgs([
      '--tenants',
      '2',
      '--sessions=50000',
      '--messages-per-session',
      '10',
      '--conversations',
      '50',
      '--long-thread-steps=1000',
      '--seed',
      '9',
      '--now',
      '2026-03-01T00:00:00Z',
      '--reset',
    ]);
    expect(options).toEqual({
      tenants: 2,
      sessions: 50_000,
      messagesPerSession: 10,
      conversations: 50,
      longThreadSteps: 1000,
      seed: 9,
      now: new Date('2026-03-01T00:00:00Z'),
      reset: true,
    });
  });

  it('defaults to the demo size, anchored at the current time', () => {
    const before = Date.now();
    const options = parseSeedArgs([]);
    expect(options).toMatchObject({ ...SEED_DEFAULTS, now: expect.any(Date) });
    expect(options?.now.getTime()).toBeGreaterThanOrEqual(before);
    expect(parseSeedArgs(['--help'])).toBeNull();
  });

  it.each([
    [['--sessions'], 'Expected a value after --sessions'],
    [['--sessions', '--reset'], 'Expected a value after --sessions'],
    [['--sessions', '-5'], 'Expected --sessions to be a non-negative integer, received "-5"'],
    [['--tenants', '2.5'], 'Expected --tenants to be a non-negative integer, received "2.5"'],
    [['--tenants', '0'], 'Expected --tenants to be an integer from 1 to 1000, received 0'],
    [['--long-thread-steps', '4'], 'Expected --long-thread-steps to be 0, 3 or at least 5, received 4'],
    [['--now', 'yesterday'], 'Expected --now to be an ISO date, received "yesterday"'],
    [['--long-thread-steps', '5001'], 'Expected --long-thread-steps to be an integer from 0 to 5000, received 5001'],
    [['--reset=yes'], '--reset takes no value, received "--reset=yes"'],
    [['--session', '5'], 'Unknown option "--session"; run `npx convoql seed --help` for the list'],
  ])('rejects %j with a one-line error', (argv, message) => {
    expect(() => parseSeedArgs(argv)).toThrow(message);
  });
});

describe('the convoql command', () => {
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    ensureCliBuilt();
    database = await createTestDatabase({ migrated: false });
    env = { DATABASE_URL: database.url };
  });

  afterAll(async () => {
    await database?.drop();
  });

  const oneLine = (text: string) => {
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    return text.trim();
  };

  it.each([
    [[], 'convoql [options] [command]'],
    [['migrate'], 'convoql migrate'],
    [['seed'], 'convoql seed [options]'],
    [['apikey'], 'convoql apikey'],
    [['apikey', 'create'], 'convoql apikey create'],
    [['apikey', 'list'], 'convoql apikey list'],
    [['apikey', 'revoke'], 'convoql apikey revoke'],
    [['tenant', 'create'], 'convoql tenant create'],
    [['tenant', 'list'], 'convoql tenant list'],
    [['conversations'], 'convoql conversations'],
    [['conversations', 'sync'], 'convoql conversations sync'],
    [['import'], 'convoql import'],
    [['export'], 'convoql export'],
    [['schema', 'emit'], 'convoql schema emit'],
    [['schema', 'check'], 'convoql schema check'],
    [['schema', 'release'], 'convoql schema release'],
  ])('%j --help prints its usage and exits 0', async (args, usage) => {
    const result = await runCli([...args, '--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`Usage: ${usage}`);
  });

  it.each([
    [['bogus'], "convoql: unknown command 'bogus'; see `npx convoql --help`"],
    [['apikey', 'create', '--bogus'], "convoql apikey create: unknown option '--bogus'; see `npx convoql apikey create --help`"],
    [['apikey', 'revoke'], "convoql apikey revoke: missing required argument 'id-or-prefix'; see `npx convoql apikey revoke --help`"],
    [['apikey', 'create', '--scopes', 'read,all', '--tenant', 'acme'], 'Unknown scope all; expected some of read, write, admin.'],
    [['apikey', 'create'], 'Pass --tenant <id> for a tenant key, or --admin for a key that may act for any tenant.'],
    [['tenant', 'create', 'Not An Id'], /^Expected a tenant id of lower-case letters, digits, "-" and "_" .*received "Not An Id"\.$/],
    [['tenant', 'list', 'extra'], /^convoql tenant list: too many arguments for 'list'/],
    [['export'], "convoql export: required option '--tenant <id>' not specified; see `npx convoql export --help`"],
    [['export', '--tenant', 'acme', '--filter', '{oops'], /^--filter expected a SessionFilter as JSON like '\{"status":\["CLOSED"\]\}': /],
    [
      ['export', '--tenant', 'acme', '--filter', '{"status":["NOPE"]}'],
      '--filter.status[0]: Value "NOPE" does not exist in "SessionStatus" enum.',
    ],
    [['export', '--tenant', 'acme', '--filter', '{"bogus":1}'], '--filter: Field "bogus" is not defined by type "SessionFilter".'],
    [['export', '--tenant', 'acme', '--from', 'yesterday'], '--from: DateTime cannot represent an invalid date-time-string yesterday.'],
    [
      ['export', '--tenant', 'acme', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'],
      '--from (2026-11-02T00:00:00Z) must be before --to (2026-11-01T00:00:00Z).',
    ],
    [
      ['export', '--tenant', 'acme', '--from', '2026-11-02T00:00:00Z', '--filter', '{"startedAfter":"2026-01-01T00:00:00Z"}'],
      'Pass --from or startedAfter in --filter, not both.',
    ],
    [['import', '--tenant', 'acme', 'no-such-file.ndjson'], 'Cannot read no-such-file.ndjson: no such file.'],
    [
      ['import', 'examples/import.ndjson'],
      "convoql import: required option '--tenant <id>' not specified; see `npx convoql import --help`",
    ],
    [['seed', '--session', '5'], 'Unknown option "--session"; run `npx convoql seed --help` for the list'],
  ])('%j fails with one line saying what to do', async (args, message) => {
    const result = await runCli(args, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    if (typeof message === 'string') expect(oneLine(result.stderr)).toBe(message);
    else expect(oneLine(result.stderr)).toMatch(message);
  });

  it('refuses a database that was never migrated, naming the command that migrates it', async () => {
    const url = new URL(database.url);
    const line =
      `The database ${url.hostname}:${url.port}${url.pathname} has no convoql tables (it was never migrated): ` +
      'run `npx convoql migrate` with the same DATABASE_URL, or start the server with --migrate.';
    for (const args of [
      ['tenant', 'list'],
      ['apikey', 'list'],
      ['conversations', 'sync'],
      ['export', '--tenant', 'acme'],
      ['import', '--tenant', 'acme', 'examples/import.ndjson'],
    ]) {
      const result = await runCli(args, env);
      expect({ args, code: result.code, stderr: oneLine(result.stderr) }).toEqual({ args, code: 1, stderr: line });
    }
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/^Applied \d+ migrations to /m);
    expect((await runCli(['migrate'], env)).stdout.trim()).toMatch(/^No pending migrations: .* is up to date\.$/);
  });

  it('creates and lists tenants, and creates, lists and revokes keys', async () => {
    expect((await runCli(['tenant', 'create', 'acme', '--name', 'Acme Corp'], env)).stdout).toMatch(/^Created tenant acme \("Acme Corp"\)/);
    const again = await runCli(['tenant', 'create', 'acme'], env);
    expect({ code: again.code, stderr: oneLine(again.stderr) }).toEqual({
      code: 1,
      stderr: 'Tenant "acme" exists already (`npx convoql tenant list`).',
    });
    const created = await runCli(['apikey', 'create', '--tenant', 'acme', '--scopes', 'read,write', '--name', 'bot'], env);
    expect(created.code).toBe(0);
    const key = created.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^cq_/);
    const listed = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout) as unknown[];
    expect(listed).toEqual([{ id: 'acme', name: 'Acme Corp', createdAt: expect.any(String), sessions: 0, activeKeys: 1 }]);
    const keys = (await runCli(['apikey', 'list', '--tenant', 'acme'], env)).stdout;
    expect(keys).toMatch(/ acme {2}read,write {2}"bot" {2}last used never/);
    expect(keys).not.toContain(key);
    const id = keys.split(' ')[0]!;
    expect((await runCli(['apikey', 'revoke', id], env)).stdout).toContain(`Revoked ${id}`);
    const unknown = await runCli(['apikey', 'create', '--tenant', 'nope'], env);
    expect({ code: unknown.code, stderr: oneLine(unknown.stderr) }).toEqual({
      code: 1,
      stderr:
        '--tenant names tenant "nope", which does not exist: create it with `npx convoql tenant create nope --name "<display name>"` ' +
        'or name an existing one (`npx convoql tenant list`).',
    });
  });

  it('syncs conversations with counts that add up, and refuses a default tenant that does not exist', async () => {
    const unknown = await runCli(['conversations', 'sync'], { ...env, CONVERSATION_DEFAULT_TENANT: 'nosuch' });
    expect({ code: unknown.code, stdout: unknown.stdout, stderr: oneLine(unknown.stderr) }).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'CONVERSATION_DEFAULT_TENANT names tenant "nosuch", which does not exist: create it with ' +
        '`npx convoql tenant create nosuch --name "<display name>"` or name an existing one (`npx convoql tenant list`).',
    });
    // The seed writes 10 LangGraph threads of tenant acme and syncs them.
    const seeded = await runCli(
      ['seed', '--tenants', '1', '--sessions', '1', '--conversations', '10', '--now', '2026-11-01T00:00:00Z'],
      env,
    );
    expect(seeded.code).toBe(0);
    const again = await runCli(['conversations', 'sync'], env);
    expect(again.code).toBe(0);
    expect(again.stdout.trimEnd()).toMatch(
      /^Synced 10 threads in \d+ ms: 0 created, 0 updated, 10 unchanged, 0 busy elsewhere, 0 skipped, 0 failed; 0 checkpoints indexed\.$/,
    );
    const json = JSON.parse((await runCli(['conversations', 'sync', '--json'], env)).stdout) as Record<string, number>;
    expect(json).toMatchObject({ threads: 10, unchanged: 10, created: 0, updated: 0, failed: 0 });
  });
});
