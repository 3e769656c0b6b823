import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import { cliTenantContext } from '../../src/cli/cli-support';
import { createLogger } from '../../src/logger';
import { exportSessions } from '../../src/sessions/session.export';
import { importSessions } from '../../src/sessions/session.import';
import { at, createMessages, createSession } from '../helpers/factories';
import { ensureCliBuilt, runCli } from '../helpers/cli';
import { startTestServer, type TestServer } from '../helpers/server';

/** The operations a dashboard runs (examples/dashboard), by name. */
const DASHBOARD = Object.fromEntries(
  ['sessions', 'usage', 'search'].flatMap((file) =>
    parse(readFileSync(path.join(__dirname, '../../examples/dashboard', `${file}.graphql`), 'utf8'))
      .definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => [operation.name!.value, print(operation)]),
  ),
);

/** An answer with what differs between two databases by construction (row ids, and cursors made of them) masked. */
function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        ['id', 'messageId', 'cursor', 'startCursor', 'endCursor'].includes(key) && typeof child === 'string' ? '<id>' : masked(child),
      ]),
    );
  }
  return value;
}

/** Every dashboard operation's answer for tenant acme, ids masked; the session detail of each session by its sessionId. */
async function dashboardAnswers(server: TestServer): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  const ask = async (name: string, variables: Record<string, unknown>) => {
    const response = await server.graphql(DASHBOARD[name]!, variables);
    expect(response.errors).toBeUndefined();
    return response.data as Record<string, unknown>;
  };
  const table = await ask('SessionsTable', { first: 50 });
  answers.SessionsTable = masked(table);
  answers.SessionsTableByActivity = masked(
    await ask('SessionsTable', { first: 3, orderBy: { field: 'LAST_ACTIVITY_AT', direction: 'DESC' } }),
  );
  answers.SessionsTableClosed = masked(
    await ask('SessionsTable', { first: 50, filter: { status: ['CLOSED'], metadata: { plan: 'pro' } } }),
  );
  answers.SessionStatsTiles = masked(await ask('SessionStatsTiles', {}));
  answers.UsageTiles = masked(await ask('UsageTiles', { filter: { from: at(-60 * 24).toISOString(), to: at(60 * 24 * 3).toISOString() } }));
  answers.UsageByChannel = masked(
    await ask('UsageTiles', { groupBy: 'CHANNEL', filter: { from: at(-60 * 24).toISOString(), to: at(60 * 24 * 3).toISOString() } }),
  );
  answers.SearchMessages = masked(await ask('SearchMessages', { query: 'refund', first: 20 }));
  const nodes = (table as { sessions: { edges: { node: { id: string; sessionId: string } }[] } }).sessions.edges.map((edge) => edge.node);
  for (const node of nodes.sort((a, b) => a.sessionId.localeCompare(b.sessionId))) {
    answers[`SessionDetail ${node.sessionId}`] = masked(await ask('SessionDetail', { id: node.id, first: 50 }));
  }
  return answers;
}

/** Sessions of acme (statuses, channels, metadata, message traces) and of globex, written as SQL and bots write them. */
async function seedSource(server: TestServer): Promise<void> {
  const plans = ['pro', 'free', 'pro', 'enterprise', 'pro', 'free'];
  for (let index = 0; index < 6; index++) {
    const startedAt = at(index * 180);
    const status = index < 3 ? 'CLOSED' : index < 5 ? 'EXPIRED' : 'ACTIVE';
    const lastMessageAt = new Date(startedAt.getTime() + (index + 2) * 60_000);
    const session = await createSession(server.db, {
      externalId: `acme-${index}`,
      channel: index % 2 ? 'app' : 'web',
      status,
      startedAt,
      lastActivityAt: lastMessageAt,
      endedAt: status === 'ACTIVE' ? null : new Date(lastMessageAt.getTime() + 90_000),
      metadata: { plan: plans[index], locale: 'en-GB', nested: { depth: [1, 2, { three: true }] } },
    });
    await createMessages(
      server.db,
      session,
      Array.from({ length: index + 2 }, (_, m) => ({
        role: m % 2 ? 'ASSISTANT' : 'USER',
        content: m % 2 ? `Here is how a refund works, step ${m}.` : `I want a refund for order ${index}-${m} ✓ «quoted» "x"\nsecond line`,
        metadata:
          m % 2
            ? {
                model: index % 2 ? 'gpt-4o' : 'claude-haiku-4',
                usage: { inputTokens: 100 * m, outputTokens: 10 * m },
                latencyMs: 500 + m,
                toolCalls: [
                  { id: `call_${m}`, name: 'lookup_order', arguments: { orderId: `A-${m}` }, status: m === 3 ? 'error' : 'success' },
                ],
                ...(index === 1 ? { errors: [{ message: 'Upstream model timed out', code: 'MODEL_TIMEOUT' }] } : {}),
              }
            : {},
      })),
    );
  }
  const other = await createSession(server.db, { tenantId: 'globex', externalId: 'globex-secret', metadata: { plan: 'pro' } });
  await createMessages(server.db, other, [{ content: 'globex confidential refund' }]);
}

describe('convoql import and export', () => {
  let source: TestServer;
  let target: TestServer;
  let dir: string;
  let exported: string;
  let sourceEnv: Record<string, string>;
  let targetEnv: Record<string, string>;

  beforeAll(async () => {
    ensureCliBuilt();
    source = await startTestServer();
    target = await startTestServer();
    dir = await mkdtemp(path.join(tmpdir(), 'convoql-import-'));
    sourceEnv = { DATABASE_URL: source.config.database.url! };
    targetEnv = { DATABASE_URL: target.config.database.url! };
    await seedSource(source);
  });

  afterAll(async () => {
    await source?.close();
    await target?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("exports one tenant's sessions with their messages, nothing of another tenant", async () => {
    exported = path.join(dir, 'acme.ndjson');
    const result = await runCli(['export', '--tenant', 'acme', '--output', exported], sourceEnv);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^Exported 6 sessions and 27 messages of tenant acme to .* in [\d.]+ s\.\n$/);
    const text = await readFile(exported, 'utf8');
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { sessionId: string; messages: unknown[] });
    expect(lines.map((line) => line.sessionId)).toEqual(['acme-0', 'acme-1', 'acme-2', 'acme-3', 'acme-4', 'acme-5']);
    expect(lines[1]).toMatchObject({
      sessionId: 'acme-1',
      channel: 'app',
      status: 'CLOSED',
      startedAt: at(180).toISOString(),
      metadata: { plan: 'free' },
      messages: [
        { role: 'USER', clientMessageId: expect.any(String), createdAt: expect.any(String), metadata: {} },
        expect.anything(),
        expect.anything(),
      ],
    });
    expect(text).not.toContain('globex');

    const globex = await runCli(['export', '--tenant', 'globex'], sourceEnv);
    expect(
      globex.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId),
    ).toEqual(['globex-secret']);
    expect(globex.stdout).not.toContain('acme');
  });

  it('pages through sessions and messages by keyset: small pages and chunks give the same lines', async () => {
    const context = cliTenantContext(source.db, source.config, createLogger(source.config), 'acme', 'test');
    const read = async (options: { sessionsPerPage?: number; messagesPerChunk?: number }) => {
      let text = '';
      const summary = await exportSessions(context, null, async (chunk) => void (text += chunk), options);
      return { summary, text };
    };
    const whole = await read({});
    expect(whole.summary).toEqual({ sessions: 6, messages: 27 });
    for (const options of [
      { sessionsPerPage: 1, messagesPerChunk: 1 },
      { sessionsPerPage: 2, messagesPerChunk: 3 },
      { sessionsPerPage: 6, messagesPerChunk: 27 },
    ]) {
      expect(await read(options)).toEqual(whole);
    }
    expect(whole.text).toBe(await readFile(exported, 'utf8'));
  });

  it('exports what the sessions list selects: --filter, --from and --to', async () => {
    const closedPro = await runCli(
      ['export', '--tenant', 'acme', '--filter', '{"status":["CLOSED"],"metadata":{"plan":"pro"}}'],
      sourceEnv,
    );
    expect(
      closedPro.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId),
    ).toEqual(['acme-0', 'acme-2']);
    const range = await runCli(['export', '--tenant', 'acme', '--from', at(180).toISOString(), '--to', at(540).toISOString()], sourceEnv);
    expect(
      range.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId),
    ).toEqual(['acme-1', 'acme-2']);
    const errors = await runCli(['export', '--tenant', 'acme', '--filter', '{"hasErrors":true,"text":"refund"}'], sourceEnv);
    const listed = await source.graphql<{ sessions: { nodes: { sessionId: string }[] } }>(
      '{ sessions(first: 50, filter: {hasErrors: true, text: "refund"}, orderBy: {field: STARTED_AT, direction: ASC}) { nodes { sessionId } } }',
    );
    expect(
      errors.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { sessionId: string }).sessionId),
    ).toEqual(listed.data!.sessions.nodes.map((node) => node.sessionId));
  });

  it('round trip: imported into an empty database, every dashboard operation answers the same', async () => {
    const result = await runCli(['import', '--tenant', 'acme', exported], targetEnv);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toMatch(
      /^Imported 6 of 6 lines into tenant acme in [\d.]+ s: 6 sessions created, 0 already there, 5 ended; 27 messages written, 0 already there \([\d,]+ messages\/s\); 0 bad lines\.$/,
    );
    expect(await dashboardAnswers(target)).toEqual(await dashboardAnswers(source));
  });

  it('running the import again changes nothing', async () => {
    const before = await dashboardAnswers(target);
    const rows = 'SELECT count(*)::int AS n, max(xmin::text::bigint) AS x FROM messages';
    const [messagesBefore] = await target.db.prisma.$queryRawUnsafe<{ n: number; x: bigint }[]>(rows);
    // From standard input this time.
    const result = await runCli(['import', '--tenant', 'acme'], targetEnv, await readFile(exported, 'utf8'));
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(
      /^Imported 6 of 6 lines into tenant acme in [\d.]+ s: 0 sessions created, 6 already there, 0 ended; 0 messages written, 27 already there; 0 bad lines\.$/,
    );
    expect(await target.db.prisma.$queryRawUnsafe(rows)).toEqual([messagesBefore]);
    expect(await dashboardAnswers(target)).toEqual(before);
  });

  it('reports a bad line with its number and reason, writes nothing of it, and goes on; --strict stops there', async () => {
    const good = (id: string) =>
      JSON.stringify({ sessionId: id, channel: 'web', messages: [{ clientMessageId: `${id}-1`, role: 'user', content: 'hi' }] });
    const file = path.join(dir, 'bad.ndjson');
    await writeFile(
      file,
      [
        good('good-1'),
        JSON.stringify({
          sessionId: 'bad-role',
          channel: 'web',
          messages: [
            { clientMessageId: 'a', role: 'USER', content: 'ok' },
            { clientMessageId: 'b', role: 'robot', content: 'x' },
          ],
        }),
        '{"sessionId": "broken", ',
        '',
        JSON.stringify({
          sessionId: 'bad-dup',
          channel: 'web',
          messages: [
            { clientMessageId: 'a', role: 'USER', content: 'x' },
            { clientMessageId: 'a', role: 'USER', content: 'y' },
          ],
        }),
        JSON.stringify({ sessionId: 'bad-field', channel: 'web', colour: 'red' }),
        good('good-2'),
      ].join('\n') + '\n',
    );
    const result = await runCli(['import', '--tenant', 'globex', file], targetEnv);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'line 2 (session bad-role): messages[1].role: role must be one of USER, ASSISTANT, SYSTEM, TOOL (any case), received "robot".',
      expect.stringMatching(/^line 3 \(session broken\): not JSON: /),
      'line 5 (session bad-dup): messages[1].clientMessageId: clientMessageId "a" is also the id of messages[0]; each message of a call needs its own.',
      'line 6 (session bad-field): colour: unknown field; expected some of sessionId, channel, status, startedAt, endedAt, lastActivityAt, metadata, threadId, messages',
    ]);
    expect(result.stdout.trim()).toMatch(
      /^Imported 2 of 6 lines into tenant globex .*: 2 sessions created, .*2 messages written, .*; 4 bad lines\.$/,
    );
    const globexKey = await target.createKey('globex', ['read']);
    const listed = await target.graphql<{ sessions: { nodes: { sessionId: string; messageCount: number }[] } }>(
      '{ sessions(first: 50) { nodes { sessionId messageCount } } }',
      {},
      { apiKey: globexKey },
    );
    expect(listed.data!.sessions.nodes.map((node) => node.sessionId).sort()).toEqual(['good-1', 'good-2']);

    const strict = await runCli(
      ['import', '--tenant', 'globex', '--strict'],
      targetEnv,
      [good('strict-1'), 'nope', good('strict-2')].join('\n'),
    );
    expect(strict.code).toBe(1);
    expect(strict.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^line 2: not JSON: /),
      'Stopped at line 2 (--strict); the lines before it are imported, so a rerun after fixing it is safe.',
    ]);
    const after = await target.graphql<{ sessions: { nodes: { sessionId: string }[] } }>(
      '{ sessions(first: 50) { nodes { sessionId } } }',
      {},
      { apiKey: globexKey },
    );
    expect(after.data!.sessions.nodes.map((node) => node.sessionId).sort()).toEqual(['good-1', 'good-2', 'strict-1']);
    // acme's data is untouched by globex's imports.
    const acme = await target.graphql<{ sessions: { totalCount: number } }>('{ sessions { totalCount } }');
    expect(acme.data!.sessions.totalCount).toBe(6);
  });

  it('writes a batch of many lines in a few statements whatever its size, bounded by messages and characters', async () => {
    const context = cliTenantContext(target.db, target.config, createLogger(target.config), 'globex', 'test');
    const lines = Array.from({ length: 120 }, (_, index) =>
      JSON.stringify({
        sessionId: `batch-${index}`,
        channel: index % 2 ? 'web' : 'app',
        status: index % 3 ? 'CLOSED' : 'ACTIVE',
        startedAt: at(index).toISOString(),
        metadata: { plan: 'pro' },
        messages: Array.from({ length: 5 }, (_, m) => ({
          clientMessageId: `m${m}`,
          role: m % 2 ? 'ASSISTANT' : 'USER',
          content: `batch ${index} message ${m}`,
          createdAt: at(index + m + 1).toISOString(),
        })),
      }),
    );
    async function* source() {
      yield* lines;
    }
    const recorded = await target.db.statements.record(() => importSessions(context, source()));
    const { result } = recorded;
    // The recorder hears every statement of the process: an earlier request's key-use update may land meanwhile.
    const ownStatements = (all: string[]) => all.filter((sql) => !/api_keys/.test(sql));
    const statements = ownStatements(recorded.statements);
    expect(result).toMatchObject({ lines: 120, sessionsCreated: 120, sessionsEnded: 80, messagesWritten: 600, badLines: 0 });
    // One batch: one upsert of the 120 sessions (those ended created ended) and one append of their 600 messages.
    expect(statements.map((sql) => sql.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual(['INSERT INTO sessions', 'WITH input AS']);
    const globexKey = await target.createKey('globex', ['read']);
    const page = await target.graphql<{
      sessions: {
        totalCount: number;
        nodes: { sessionId: string; status: string; messageCount: number; lastActivityAt: string; endedAt: string | null }[];
      };
    }>(
      '{ sessions(first: 3, filter: { metadata: { plan: "pro" } }, orderBy: { field: STARTED_AT, direction: ASC }) { totalCount nodes { sessionId status messageCount lastActivityAt endedAt } } }',
      {},
      { apiKey: globexKey },
    );
    expect(page.data!.sessions.nodes).toEqual([
      { sessionId: 'batch-0', status: 'ACTIVE', messageCount: 5, lastActivityAt: at(5).toISOString(), endedAt: null },
      { sessionId: 'batch-1', status: 'CLOSED', messageCount: 5, lastActivityAt: at(6).toISOString(), endedAt: at(6).toISOString() },
      { sessionId: 'batch-2', status: 'CLOSED', messageCount: 5, lastActivityAt: at(7).toISOString(), endedAt: at(7).toISOString() },
    ]);

    // Small bounds: batches of at most 7 sessions, 12 messages and 2,000 characters; the same lines write nothing new.
    const again = await target.db.statements.record(() =>
      importSessions(context, source(), { sessionsPerBatch: 7, messagesPerBatch: 12, charactersPerBatch: 2_000 }),
    );
    expect(again.result).toMatchObject({
      lines: 120,
      sessionsCreated: 0,
      sessionsExisting: 120,
      messagesWritten: 0,
      messagesDuplicate: 600,
    });
    const againStatements = ownStatements(again.statements);
    const batches = againStatements.filter((sql) => sql.trim().startsWith('INSERT INTO sessions')).length;
    expect(batches).toBeGreaterThanOrEqual(60); // 12 messages of sessions of 5: at most 2 sessions per batch
    expect(againStatements).toHaveLength(2 * batches);
  });

  it('a session named on two lines is written twice in order; an ACTIVE session a later line ends is ended', async () => {
    const file = path.join(dir, 'twice.ndjson');
    const message = (id: string, minutes: number) => ({
      clientMessageId: id,
      role: 'user',
      content: `hi ${id}`,
      createdAt: at(minutes).toISOString(),
    });
    await writeFile(
      file,
      [
        JSON.stringify({ sessionId: 'twice', channel: 'web', startedAt: at(0).toISOString(), messages: [message('a', 1)] }),
        JSON.stringify({ sessionId: 'twice', channel: 'app', status: 'EXPIRED', messages: [message('a', 1), message('b', 2)] }),
      ].join('\n'),
    );
    const result = await runCli(['import', '--tenant', 'globex', file], targetEnv);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/1 session created, 1 already there, 1 ended; 2 messages written, 1 already there/);
    const globexKey = await target.createKey('globex', ['read']);
    const found = await target.graphql<{ session: { channel: string; status: string; endedAt: string; messageCount: number } }>(
      '{ session: sessionByExternalId(sessionId: "twice") { channel status endedAt messageCount } }',
      {},
      { apiKey: globexKey },
    );
    expect(found.data).toEqual({ session: { channel: 'app', status: 'EXPIRED', endedAt: at(2).toISOString(), messageCount: 2 } });
  });

  it('imports the documented example file', async () => {
    const result = await runCli(['import', '--tenant', 'globex', 'examples/import.ndjson'], targetEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/3 sessions created, 0 already there, 2 ended; 6 messages written/);
    const globexKey = await target.createKey('globex', ['read']);
    const found = await target.graphql<{
      session: { status: string; endedAt: string; messageCount: number; trace: { counts: { toolCalls: number } } };
    }>(
      '{ session: sessionByExternalId(sessionId: "chat-1001") { status endedAt messageCount trace { counts { toolCalls } } } }',
      {},
      { apiKey: globexKey },
    );
    expect(found.data).toEqual({
      session: { status: 'CLOSED', endedAt: '2026-11-20T10:04:30.000Z', messageCount: 3, trace: { counts: { toolCalls: 1 } } },
    });
  });

  it('refuses an unknown tenant in one line, writing nothing', async () => {
    const result = await runCli(['import', '--tenant', 'nosuch', 'examples/import.ndjson'], targetEnv);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 1, stdout: '' });
    expect(result.stderr).toBe(
      '--tenant names tenant "nosuch", which does not exist: create it with `npx convoql tenant create nosuch --name "<display name>"` ' +
        'or name an existing one (`npx convoql tenant list`).\n',
    );
  });
});
