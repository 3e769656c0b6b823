// The append-messages scenario: appendMessages with 100 messages per call, each call a fresh batch (new client ids) to
// one of 2,000 ACTIVE sessions in turn, against the raw baseline inserting the same batches with INSERT … SELECT FROM
// unnest (bench/baseline/append.ts), A B A B per connection count. The sessions it creates (and their messages) are
// deleted at the end, so the dataset stays as it was.
import { randomBytes } from 'node:crypto';
import { createApiKey } from '../src/api-keys/api-key.repository';
import { createDatabase } from '../src/db/client';
import { summarizeCpuProfile } from './cpu-profile';
import type { BenchDatabase, Fixtures } from './dataset';
import { withClient } from './dataset';
import { requestOnce, runSegment, type SegmentResult } from './load';
import type { BenchOperation } from './operations';
import type { ServerProcess } from './processes';
import { combineSegments, round, type ServerFigures, type TargetCheck } from './report';

/** The key of the scenario for --only. */
export const APPEND_MESSAGES_KEY = 'append-messages';
export const MESSAGES_PER_CALL = 100;
const SESSIONS = 2_000;
const KEY_NAME = 'convoql-bench-append';

const APPEND_DOCUMENT = `mutation AppendMessages($input: AppendMessagesInput!) {
  appendMessages(input: $input) { appendedCount duplicateCount userErrors { code field } }
}`;

/** Figures of the scenario at one connection count. */
export interface AppendMessagesRow {
  readonly connections: number;
  readonly convoql: ServerFigures;
  readonly baseline: ServerFigures;
  /** Messages written per second (requests × 100). */
  readonly convoqlMessagesPerSecond: number;
  readonly baselineMessagesPerSecond: number;
  readonly ratio: number | null;
}

/** What the scenario measured. */
export interface AppendMessagesResult {
  readonly messagesPerCall: number;
  readonly statementsPerCall: { convoql: number; baseline: number };
  readonly rows: AppendMessagesRow[];
}

/** The request bodies: call n appends messages `<run>-n-0` … `<run>-n-99` to session `n mod 2000`. */
function appendOperation(run: string): BenchOperation {
  let calls = 0;
  const content =
    'Thanks for waiting. I checked order A-1001: it shipped yesterday and should arrive within two business days. ' +
    'Is there anything else I can help you with today?';
  const nextBody = () => {
    const call = calls++;
    const createdAt = new Date().toISOString();
    const messages = Array.from({ length: MESSAGES_PER_CALL }, (_, index) => ({
      clientMessageId: `${run}-${call}-${index}`,
      role: index % 2 === 0 ? 'USER' : 'ASSISTANT',
      content: `${content} (${call}/${index})`,
      createdAt,
      metadata: index % 2 === 0 ? {} : { model: 'gpt-4o-mini', usage: { inputTokens: 812, outputTokens: 96 }, latencyMs: 840 },
    }));
    return JSON.stringify({
      query: APPEND_DOCUMENT,
      operationName: 'AppendMessages',
      variables: { input: { sessionId: `bench-append-${run}-${call % SESSIONS}`, messages } },
    });
  };
  return {
    key: APPEND_MESSAGES_KEY,
    label: `appendMessages, ${MESSAGES_PER_CALL} messages per call`,
    operationName: 'AppendMessages',
    body: nextBody(),
    nextBody,
  };
}

/** Runs the scenario: a write key and 2,000 sessions for the first tenant, then A B A B at each connection count. */
export async function runAppendMessages(options: {
  database: BenchDatabase;
  fixtures: Fixtures;
  startConvoql: () => Promise<ServerProcess>;
  startBaseline: () => Promise<ServerProcess>;
  connections: number[];
  seconds: number;
  warmupSeconds: number;
  /** Profiles convoql through one more 16-connection segment and prints where its CPU went. */
  cpuProfile?: boolean;
  log: (line: string) => void;
}): Promise<AppendMessagesResult> {
  const { database, fixtures, log } = options;
  const run = randomBytes(4).toString('hex');
  const db = createDatabase(database.url, { poolMax: 1 });
  let apiKey: string;
  try {
    await db.prisma.apiKey.deleteMany({ where: { name: KEY_NAME } });
    ({ key: apiKey } = await createApiKey(db, { tenantId: fixtures.tenantId, name: KEY_NAME, scopes: ['write'] }));
  } finally {
    await db.close();
  }
  await withClient(database.url, (client) =>
    client.query(
      `INSERT INTO sessions (tenant_id, external_id, channel, started_at, last_activity_at)
       SELECT $1, 'bench-append-' || $2 || '-' || g, 'api', now(), now() FROM generate_series(0, $3 - 1) g`,
      [fixtures.tenantId, run, SESSIONS],
    ),
  );
  const servers: ServerProcess[] = [];
  try {
    const convoql = await options.startConvoql();
    servers.push(convoql);
    const baseline = await options.startBaseline();
    servers.push(baseline);
    const operation = appendOperation(run);
    // One call each, alone: both must write the 100 messages; the second call of each is counted (the key is cached).
    const statements = { convoql: 0, baseline: 0 };
    for (const [name, server] of [
      ['convoql', convoql],
      ['baseline', baseline],
    ] as const) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const once = await requestOnce(server, { ...operation, body: operation.nextBody!() }, apiKey);
        const appended = (once.body as { data?: { appendMessages?: { appendedCount?: number } } }).data?.appendMessages?.appendedCount;
        if (once.status !== 200 || appended !== MESSAGES_PER_CALL) {
          throw new Error(
            `Expected ${name} to append ${MESSAGES_PER_CALL} messages, got HTTP ${once.status} ${JSON.stringify(once.body).slice(0, 300)}`,
          );
        }
        statements[name] = once.statements;
      }
    }
    log(`append messages: SQL statements per call ${statements.convoql} vs ${statements.baseline}`);
    await runSegment(database, convoql, operation, apiKey, 16, options.warmupSeconds);
    await runSegment(database, baseline, operation, apiKey, 16, options.warmupSeconds);
    const rows: AppendMessagesRow[] = [];
    for (const connections of options.connections) {
      const segments: Record<'convoql' | 'baseline', SegmentResult[]> = { convoql: [], baseline: [] };
      for (let pass = 0; pass < 2; pass++) {
        segments.convoql.push(await runSegment(database, convoql, operation, apiKey, connections, options.seconds));
        segments.baseline.push(await runSegment(database, baseline, operation, apiKey, connections, options.seconds));
      }
      const a = combineSegments(segments.convoql);
      const b = combineSegments(segments.baseline);
      const row: AppendMessagesRow = {
        connections,
        convoql: a,
        baseline: b,
        convoqlMessagesPerSecond: round(a.requestsPerSecond * MESSAGES_PER_CALL, 0),
        baselineMessagesPerSecond: round(b.requestsPerSecond * MESSAGES_PER_CALL, 0),
        ratio: b.requestsPerSecond > 0 ? round(a.requestsPerSecond / b.requestsPerSecond, 2) : null,
      };
      rows.push(row);
      log(
        `  ${String(connections).padStart(2)} conns: ${row.convoqlMessagesPerSecond} vs ${row.baselineMessagesPerSecond} messages/s (${row.ratio ?? '–'}×), ` +
          `p50 ${a.p50Ms?.toFixed(1) ?? '–'} vs ${b.p50Ms?.toFixed(1) ?? '–'} ms per call, errors ${a.errors} vs ${b.errors}` +
          (a.errorSample ? `; convoql: ${a.errorSample.slice(0, 200)}` : ''),
      );
    }
    if (options.cpuProfile) {
      await convoql.startProfile();
      const segment = await runSegment(database, convoql, operation, apiKey, 16, options.seconds);
      const { text } = summarizeCpuProfile(await convoql.stopProfile(), 'convoql CPU profile, appendMessages, 16 conns', segment.requests);
      log(text);
    }
    return { messagesPerCall: MESSAGES_PER_CALL, statementsPerCall: statements, rows };
  } finally {
    for (const server of servers) await server.stop();
    // Its sessions and (by cascade) their messages, so the dataset stays as it was.
    await withClient(database.url, (client) =>
      client.query(`DELETE FROM sessions WHERE tenant_id = $1 AND external_id LIKE $2`, [fixtures.tenantId, `bench-append-${run}-%`]),
    );
  }
}

/** The targets for the scenario's figures. */
export function appendMessagesTargets(result: AppendMessagesResult): TargetCheck[] {
  const at16 = result.rows.find((row) => row.connections === 16);
  return [
    {
      target: `appendMessages (${result.messagesPerCall} per call) at 16 conns >= 0.5x the baseline's messages/s`,
      measured: at16 ? `${at16.ratio}x (${at16.convoqlMessagesPerSecond} vs ${at16.baselineMessagesPerSecond} messages/s)` : 'not run',
      met: at16?.ratio == null ? null : at16.ratio >= 0.5,
    },
    {
      target: 'appendMessages SQL statements per call, whatever the batch size, <= 3',
      measured: `${result.statementsPerCall.convoql} (baseline ${result.statementsPerCall.baseline})`,
      met: result.statementsPerCall.convoql <= 3,
    },
  ];
}
