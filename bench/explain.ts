// `npm run bench -- --explain`: EXPLAIN ANALYZE of the statement convoql sends for a deep sessions
// page, in every order, direction and paging direction the API offers, with and without a status
// filter; then of every statement of the first and a late replay page. The statements are captured
// from the real server (with their parameters), not rebuilt.
import type { Client } from 'pg';
import { encodeCursor } from './baseline/encoding';
import { withClient, type BenchDatabase, type Fixtures } from './dataset';
import { requestOnce } from './load';
import { loadDashboardDocuments, PAGE_SIZE, requestBody } from './operations';
import { npmStartCommand, startServerProcess, type ServerProcess } from './processes';
import { findReplayPages } from './replay-pages';
import type { CapturedStatement } from './server-probe';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Scan Direction'?: string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

interface ExplainCase {
  field: 'STARTED_AT' | 'LAST_ACTIVITY_AT';
  direction: 'ASC' | 'DESC';
  paging: 'forward' | 'backward';
  status: string[] | null;
}

const FIELDS = ['STARTED_AT', 'LAST_ACTIVITY_AT'] as const;
const COLUMNS = { STARTED_AT: 'started_at', LAST_ACTIVITY_AT: 'last_activity_at' } as const;
/** A seek reads about one page; a scan reads the rows before the cursor. */
const SEEK_ROW_LIMIT = 10 * (PAGE_SIZE + 1);

/** Prints plans and a verdict per case; sets a failing exit code when a deep page does not seek. */
export async function runExplain(
  projectRoot: string,
  database: BenchDatabase,
  fixtures: Fixtures,
  convoqlEnv: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const documents = loadDashboardDocuments(projectRoot);
  const server = await startServerProcess(projectRoot, {
    name: 'convoql',
    applicationName: 'convoql-explain',
    ...npmStartCommand(projectRoot),
    env: { ...convoqlEnv, BENCH_CAPTURE_STATEMENTS: '1' },
    readyPath: '/healthz',
    graphqlPath: '/graphql',
  });
  const verdicts: string[] = [];
  let failures = 0;
  try {
    await withClient(database.url, async (client) => {
      for (const status of [null, ['CLOSED'], ['CLOSED', 'EXPIRED']]) {
        for (const field of FIELDS) {
          for (const direction of ['DESC', 'ASC'] as const) {
            for (const paging of ['forward', 'backward'] as const) {
              const testCase: ExplainCase = { field, direction, paging, status };
              const { offset, cursor } = await deepCursor(client, fixtures, testCase);
              const label =
                `${field} ${direction}, ${paging === 'forward' ? `first ${PAGE_SIZE} after` : `last ${PAGE_SIZE} before`} ` +
                `row ${offset.toLocaleString('en-US')}${status ? `, status ${status.join('+')}` : ''}`;
              const variables = {
                ...(paging === 'forward' ? { first: PAGE_SIZE, after: cursor } : { last: PAGE_SIZE, before: cursor }),
                orderBy: { field, direction },
                ...(status ? { filter: { status } } : {}),
              };
              const deep = await listStatement(server, requestBody(documents, 'SessionsTable', variables), fixtures.apiKey);
              const first = await listStatement(
                server,
                requestBody(documents, 'SessionsTable', {
                  first: PAGE_SIZE,
                  orderBy: { field, direction },
                  ...(status ? { filter: { status } } : {}),
                }),
                fixtures.apiKey,
              );
              const text = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${deep.text}`, deep.values);
              const deepPlan = await planJson(client, deep);
              const firstPlan = await planJson(client, first);
              const verdict = judge(deepPlan.plan, COLUMNS[field]);
              if (!verdict.seeks) failures++;
              log(`\n=== ${label}`);
              log(text.rows.map((row) => `  ${row['QUERY PLAN']}`).join('\n'));
              verdicts.push(
                `${verdict.seeks ? 'SEEK   ' : 'NO SEEK'}  ${label.padEnd(70)}  ${verdict.description}; ` +
                  `${deepPlan.executionMs.toFixed(2)} ms vs first page ${firstPlan.executionMs.toFixed(2)} ms`,
              );
            }
          }
        }
      }
    });
    const replay = await findReplayPages(projectRoot, database, server, documents, fixtures, log);
    if (Array.isArray(replay)) log(`\nreplay statements skipped: ${replay[0]!.reason}`);
    else {
      for (const [label, variables] of [
        ['first replay page', replay.firstPage],
        [`replay page after step ${replay.lateOrdinal} of ${replay.totalSteps}`, replay.latePage],
      ] as const) {
        await explainEveryStatement(database, server, label, requestBody(documents, 'ConversationReplay', variables), fixtures.apiKey, log);
      }
    }
  } finally {
    await server.stop();
  }
  log('\nDeep sessions pages (the list statement convoql sends, EXPLAIN ANALYZE on this database):');
  for (const line of verdicts) log(`  ${line}`);
  log(failures === 0 ? 'every deep page seeks through an index' : `${failures} deep page(s) do not seek through an index`);
  if (failures > 0) process.exitCode = 1;
}

/** Sends one request, then EXPLAIN ANALYZEs each statement it issued (warm: the request is sent once before). */
async function explainEveryStatement(
  database: BenchDatabase,
  server: ServerProcess,
  label: string,
  body: string,
  apiKey: string,
  log: (line: string) => void,
) {
  const operation = { key: 'explain', label, operationName: 'ConversationReplay', body };
  await requestOnce(server, operation, apiKey);
  await server.capturedStatements();
  const started = Date.now();
  await requestOnce(server, operation, apiKey);
  const elapsedMs = Date.now() - started;
  const statements = await server.capturedStatements();
  log(`\n=== ${label}: ${statements.length} statements, ${elapsedMs} ms for the whole request`);
  await withClient(database.url, async (client) => {
    for (const [index, statement] of statements.entries()) {
      // EXPLAIN ANALYZE executes the statement: reads only.
      if (!/^\s*(SELECT|WITH)\b/i.test(statement.text) || /\b(INSERT|UPDATE|DELETE)\b/i.test(statement.text)) {
        log(`--- statement ${index + 1}: not explained (not a read): ${statement.text.slice(0, 80)}…`);
        continue;
      }
      const result = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values);
      const plan = result.rows.map((row) => row['QUERY PLAN']);
      const firstLine = statement.text.replace(/\s+/g, ' ').trim().slice(0, 110);
      log(`--- statement ${index + 1}: ${plan.find((line) => line.startsWith('Execution Time')) ?? ''}: ${firstLine}…`);
      log(plan.map((line) => `  ${line}`).join('\n'));
    }
  });
}

/** The cursor of the row `offset` deep in this order (90,000 on the full dataset), built from the row itself. */
async function deepCursor(client: Client, fixtures: Fixtures, testCase: ExplainCase): Promise<{ offset: number; cursor: string }> {
  const column = COLUMNS[testCase.field];
  const params: unknown[] = [fixtures.tenantId];
  const statusCondition = testCase.status ? `AND status = ANY($${params.push(testCase.status)}::session_status[])` : '';
  const counted = await client.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE tenant_id = $1 ${statusCondition}`, params);
  const offset = Math.min(fixtures.deepPageOffset, Math.floor(Number(counted.rows[0]!.n) * 0.9));
  const row = await client.query<{ id: string; value: Date }>(
    `SELECT id, ${column} AS value FROM sessions WHERE tenant_id = $1 ${statusCondition}
      ORDER BY ${column} ${testCase.direction}, id ${testCase.direction} OFFSET ${offset - 1} LIMIT 1`,
    params,
  );
  const found = row.rows[0]!;
  return { offset, cursor: encodeCursor(`Session:${testCase.field}`, { value: found.value.toISOString(), id: found.id }) };
}

/** Sends a SessionsTable request and returns the sessions list statement it issued. */
async function listStatement(
  server: Awaited<ReturnType<typeof startServerProcess>>,
  body: string,
  apiKey: string,
): Promise<CapturedStatement> {
  await server.capturedStatements();
  const answer = await requestOnce(server, { key: 'explain', label: 'explain', operationName: 'SessionsTable', body }, apiKey);
  const statements = await server.capturedStatements();
  if (answer.status !== 200 || (answer.body as { errors?: unknown }).errors) {
    throw new Error(`Expected SessionsTable to answer, received HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 400)}`);
  }
  const list = statements.find(
    (statement) => /FROM sessions s WHERE/.test(statement.text) && /ORDER BY/.test(statement.text) && /LIMIT/.test(statement.text),
  );
  if (!list)
    throw new Error(`Expected a sessions list statement among: ${statements.map((statement) => statement.text.slice(0, 120)).join(' | ')}`);
  return list;
}

async function planJson(client: Client, statement: CapturedStatement): Promise<{ plan: PlanNode; executionMs: number }> {
  const result = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`,
    statement.values,
  );
  const [top] = result.rows[0]!['QUERY PLAN'];
  return { plan: top.Plan, executionMs: top['Execution Time'] };
}

/**
 * Seeks when the page's sessions scan is an index scan bounded by the sort column, needs no Sort, and reads about one
 * page. The statement also counts the total (a scan of its own) and orders the page's rows once more, so only what
 * runs under the page's LIMIT is judged.
 */
function judge(statementPlan: PlanNode, column: string): { seeks: boolean; description: string } {
  const findLimit = (node: PlanNode): PlanNode | undefined =>
    node['Node Type'] === 'Limit' ? node : node.Plans?.map(findLimit).find((found) => found !== undefined);
  const plan = findLimit(statementPlan) ?? statementPlan;
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    nodes.push(node);
    node.Plans?.forEach(walk);
  };
  walk(plan);
  const scan = nodes.find((node) => node['Relation Name'] === 'sessions');
  if (!scan) return { seeks: false, description: 'no scan of sessions found' };
  const sorted = nodes.some((node) => node['Node Type'] === 'Sort');
  const rowsRead = (scan['Actual Rows'] ?? 0) + (scan['Rows Removed by Filter'] ?? 0);
  const indexScan = scan['Node Type'] === 'Index Scan' || scan['Node Type'] === 'Index Only Scan';
  const bounded = indexScan && (scan['Index Cond'] ?? '').includes(column);
  const description =
    `${scan['Node Type']}${scan['Scan Direction'] === 'Backward' ? ' Backward' : ''}${scan['Index Name'] ? ` on ${scan['Index Name']}` : ''}` +
    `${bounded ? ` (bound on ${column})` : ''}${sorted ? ' + Sort' : ''}, ${rowsRead} rows read`;
  return { seeks: bounded && !sorted && rowsRead <= SEEK_ROW_LIMIT, description };
}
