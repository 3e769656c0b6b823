// The search scenario (`npm run bench -- --only search`): the sessions page with totalCount, searchMessages and the
// conversations page, each unfiltered and filtered at about 10 %, 1 % and 0.01 % selectivity (the seed's search
// markers, prisma/seed/search-markers.ts), and deep pages of the filtered lists; p50 at 1 connection and req/s at 16
// on one convoql server (there is no baseline for search), then EXPLAIN ANALYZE of every statement of each request.
import type { Client } from 'pg';
import { loadConfig } from '../src/config';
import { CAMPAIGNS, MESSAGE_MARKERS, SEARCH_TIERS, SESSION_MARKERS, type SearchTier } from '../prisma/seed/search-markers';
import { encodeCursor } from './baseline/encoding';
import { withClient, type BenchDatabase, type Fixtures } from './dataset';
import { requestOnce, runSegment, type SegmentResult } from './load';
import { PAGE_SIZE, requestBody, type BenchOperation } from './operations';
import type { ServerProcess } from './processes';
import { combineSegments, round, type ServerFigures, type TargetCheck } from './report';

/** The key of the scenario for --only. */
export const SEARCH_KEY = 'search';
/** A filtered page's p50 may be at most this many times its list's unfiltered first page's (the issue's target). */
const FILTERED_PAGE_LIMIT = 5;
/** A deep page's p50 may be at most this many times the same filter's first page's. */
const DEEP_PAGE_LIMIT = 1.5;
/** How deep a deep page goes: 90 % down the filtered list, at most this many rows. */
const MAX_DEEP_OFFSET = 90_000;
const CONNECTIONS = [1, 16] as const;
/** Longest segment of a slow operation. */
const MAX_SEGMENT_SECONDS = 15;
/** The text search configuration the servers run with (TEXT_SEARCH_CONFIG's default). */
const TS_CONFIG = "'simple'::regconfig";
/** The most matches a search counts, and the window RELEVANCE ranks (SEARCH_COUNT_LIMIT's default, which the servers run with). */
const SEARCH_COUNT_LIMIT = loadConfig({}).search.countLimit;

type ListName = 'sessions' | 'searchMessages' | 'conversations';

/** One measured request of the scenario. */
interface SearchCase {
  readonly operation: BenchOperation;
  readonly list: ListName;
  /** The case whose p50 this one is held to (none for the references). */
  readonly comparedWith: { key: string; limit: number } | null;
  /** Rows of the tenant's list the filter selects, and of the whole list. */
  readonly selected: number;
  readonly listSize: number;
}

/** The figures of one case. */
interface SearchRow {
  key: string;
  label: string;
  list: ListName;
  selected: number;
  selectivity: number;
  statements: number;
  segmentSeconds: number;
  figures: Record<string, ServerFigures>;
  plans: ExplainedStatement[];
}

interface ExplainedStatement {
  executionMs: number;
  /** Scans of the plan: node type, relation and index. */
  scans: string[];
  text: string[];
  sql: string;
}

/** Builds the cases, measures each on `server` (started with BENCH_CAPTURE_STATEMENTS=1), explains and checks them. */
export async function runSearch(options: {
  database: BenchDatabase;
  fixtures: Fixtures;
  documents: Map<string, string>;
  server: ServerProcess;
  segmentSeconds: number;
  warmupSeconds: number;
  /** Key prefixes of the cases to run (all when empty). */
  only: readonly string[];
  finish: () => Promise<unknown>;
  log: (line: string) => void;
}): Promise<{ rows: SearchRow[]; targets: TargetCheck[]; table: string }> {
  const { database, fixtures, documents, server, log } = options;
  const built = await withClient(database.url, (client) => buildCases(client, fixtures, documents));
  // `--only search-conversations` (any prefix of the keys) runs those cases and the references they are held to.
  const wanted = (key: string) => options.only.length === 0 || options.only.some((prefix) => key.startsWith(prefix));
  const needed = new Set(
    built.filter((testCase) => wanted(testCase.operation.key)).flatMap((c) => [c.operation.key, c.comparedWith?.key ?? '']),
  );
  const cases = built.filter((testCase) => needed.has(testCase.operation.key));
  const rows: SearchRow[] = [];
  for (const testCase of cases) {
    const { operation } = testCase;
    log(`search: ${operation.label}`);
    await requestOnce(server, operation, fixtures.apiKey);
    await server.capturedStatements();
    const single = await requestOnce(server, operation, fixtures.apiKey);
    const captured = await server.capturedStatements();
    const errors = (single.body as { errors?: unknown }).errors;
    if (single.status !== 200 || errors)
      throw new Error(`Expected ${operation.key} to answer, received HTTP ${single.status} ${JSON.stringify(errors)}`);
    const seconds = Math.min(MAX_SEGMENT_SECONDS, Math.max(options.segmentSeconds, Math.ceil((2 * single.ms) / 1000)));
    await runSegment(database, server, operation, fixtures.apiKey, 16, options.warmupSeconds);
    await options.finish();
    const figures: Record<string, ServerFigures> = {};
    for (const connections of CONNECTIONS) {
      const segments: SegmentResult[] = [];
      for (let pass = 0; pass < 2; pass++) {
        segments.push(await runSegment(database, server, operation, fixtures.apiKey, connections, seconds));
        await options.finish();
      }
      figures[connections] = combineSegments(segments);
    }
    const plans = await withClient(database.url, (client) => explainAll(client, captured));
    log(
      `  ${testCase.selected.toLocaleString('en-US')} of ${testCase.listSize.toLocaleString('en-US')} rows selected; ` +
        `p50 ${figures[1]!.p50Ms?.toFixed(1)} ms at 1 conn, ${figures[16]!.requestsPerSecond.toFixed(0)} req/s at 16; ` +
        `${single.statements} statement(s): ${plans.map((plan) => `${plan.executionMs.toFixed(1)} ms [${plan.scans.join('; ')}]`).join(' | ')}`,
    );
    rows.push({
      key: operation.key,
      label: operation.label,
      list: testCase.list,
      selected: testCase.selected,
      selectivity: testCase.listSize > 0 ? testCase.selected / testCase.listSize : 0,
      statements: single.statements,
      segmentSeconds: seconds,
      figures,
      plans,
    });
  }
  return { rows, targets: checkTargets(cases, rows), table: formatSearchTable(rows) };
}

/** The scenario's cases in run order; each list's unfiltered first page first. */
async function buildCases(client: Client, fixtures: Fixtures, documents: Map<string, string>): Promise<SearchCase[]> {
  const tenant = fixtures.tenantId;
  const cases: SearchCase[] = [];
  const add = (
    list: ListName,
    key: string,
    label: string,
    operationName: string,
    variables: Record<string, unknown>,
    selected: number,
    listSize: number,
    comparedWith: SearchCase['comparedWith'],
  ) => {
    cases.push({
      operation: { key, label, operationName, body: requestBody(documents, operationName, variables) },
      list,
      comparedWith,
      selected,
      listSize,
    });
  };
  const count = async (sql: string, params: unknown[]) => Number((await client.query<{ n: string }>(sql, params)).rows[0]!.n);
  const deepOffset = (selected: number) => Math.min(MAX_DEEP_OFFSET, Math.floor(selected * 0.9));
  /** The row `offset` deep in `select` (which orders and returns `value` and `id`), or null past the end. */
  const rowAt = async (select: string, params: unknown[], offset: number) =>
    (await client.query<{ value: Date | string; id: string }>(`${select} OFFSET ${offset - 1} LIMIT 1`, params)).rows[0] ?? null;

  // Sessions: the dashboard's table (totalCount and message counts) in the default order, started_at DESC.
  const sessions = await count('SELECT count(*) AS n FROM sessions WHERE tenant_id = $1', [tenant]);
  add(
    'sessions',
    'search-sessions-unfiltered',
    'sessions, unfiltered first page',
    'SessionsTable',
    { first: PAGE_SIZE },
    sessions,
    sessions,
    null,
  );
  const sessionConditions: [string, string, (tier: SearchTier) => [object, string, unknown]][] = [
    [
      'metadata',
      'metadata',
      (tier) => [{ metadata: { campaign: CAMPAIGNS[tier] } }, 's.metadata @> $2::jsonb', JSON.stringify({ campaign: CAMPAIGNS[tier] })],
    ],
    [
      'text',
      'text',
      (tier) => [
        { text: SESSION_MARKERS[tier].word },
        `EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.tenant_id = s.tenant_id
                   AND m.content_tsv @@ websearch_to_tsquery(${TS_CONFIG}, $2))`,
        SESSION_MARKERS[tier].word,
      ],
    ],
  ];
  for (const [name, label, condition] of sessionConditions) {
    for (const tier of SEARCH_TIERS) {
      const [filter, sql, parameter] = condition(tier);
      const selected = await count(`SELECT count(*) AS n FROM sessions s WHERE s.tenant_id = $1 AND ${sql}`, [tenant, parameter]);
      const key = `search-sessions-${name}-${tier}`;
      add(
        'sessions',
        key,
        `sessions, ${label} ${tier}: ${JSON.stringify(filter)}`,
        'SessionsTable',
        { first: PAGE_SIZE, filter },
        selected,
        sessions,
        {
          key: 'search-sessions-unfiltered',
          limit: FILTERED_PAGE_LIMIT,
        },
      );
      if (tier === '0.01%') continue;
      const offset = deepOffset(selected);
      const row = await rowAt(
        `SELECT s.started_at AS value, s.id FROM sessions s WHERE s.tenant_id = $1 AND ${sql} ORDER BY s.started_at DESC, s.id DESC`,
        [tenant, parameter],
        offset,
      );
      if (!row) continue;
      const after = encodeCursor('Session:STARTED_AT', { value: new Date(row.value).toISOString(), id: row.id });
      add(
        'sessions',
        `${key}-deep`,
        `sessions, ${label} ${tier}, page after ${offset.toLocaleString('en-US')}`,
        'SessionsTable',
        { first: PAGE_SIZE, after, filter },
        selected,
        sessions,
        { key, limit: DEEP_PAGE_LIMIT },
      );
    }
  }

  // searchMessages: the dashboard's search box, newest and best first.
  const messages = await count('SELECT count(*) AS n FROM messages WHERE tenant_id = $1', [tenant]);
  const matches = `m.content_tsv @@ websearch_to_tsquery(${TS_CONFIG}, $2)`;
  const rank = `ts_rank(m.content_tsv, websearch_to_tsquery(${TS_CONFIG}, $2))`;
  for (const order of ['NEWEST', 'RELEVANCE'] as const) {
    for (const tier of SEARCH_TIERS) {
      const word = MESSAGE_MARKERS[tier].word;
      const selected = await count(`SELECT count(*) AS n FROM messages m WHERE m.tenant_id = $1 AND ${matches}`, [tenant, word]);
      const key = `search-messages-${order.toLowerCase()}-${tier}`;
      const variables = { query: word, first: PAGE_SIZE, orderBy: order };
      // No unfiltered search exists: a search page is held to the unfiltered sessions page, the same dashboard's table.
      add('searchMessages', key, `searchMessages ${order} ${tier}: "${word}"`, 'SearchMessages', variables, selected, messages, {
        key: 'search-sessions-unfiltered',
        limit: FILTERED_PAGE_LIMIT,
      });
      if (tier === '0.01%') continue;
      // RELEVANCE ranks the newest SEARCH_COUNT_LIMIT matches only (its window): its deep page is 90 % down that window.
      const offset = deepOffset(order === 'NEWEST' ? selected : Math.min(selected, SEARCH_COUNT_LIMIT));
      const row = await rowAt(
        order === 'NEWEST'
          ? `SELECT m.created_at AS value, m.id FROM messages m WHERE m.tenant_id = $1 AND ${matches} ORDER BY m.created_at DESC, m.id DESC`
          : `SELECT newest.rank::text AS value, newest.id FROM (
               SELECT m.id, ${rank} AS rank FROM messages m WHERE m.tenant_id = $1 AND ${matches}
               ORDER BY m.created_at DESC, m.id DESC LIMIT ${SEARCH_COUNT_LIMIT}
             ) newest ORDER BY newest.rank DESC, newest.id DESC`,
        [tenant, word],
        offset,
      );
      if (!row) continue;
      const value = order === 'NEWEST' ? new Date(row.value).toISOString() : String(row.value);
      add(
        'searchMessages',
        `${key}-deep`,
        `searchMessages ${order} ${tier}, page after ${offset.toLocaleString('en-US')}`,
        'SearchMessages',
        { ...variables, after: encodeCursor(`MessageSearch:${order}`, { value, id: row.id }) },
        selected,
        messages,
        { key, limit: DEEP_PAGE_LIMIT },
      );
    }
  }

  // Conversations: the dashboard's table in the default order, last_activity_at DESC.
  const conversations = await count('SELECT count(*) AS n FROM conversations WHERE tenant_id = $1', [tenant]);
  add(
    'conversations',
    'search-conversations-unfiltered',
    'conversations, unfiltered first page',
    'ConversationsTable',
    { first: PAGE_SIZE },
    conversations,
    conversations,
    null,
  );
  const conversationConditions: [string, (tier: SearchTier) => [object, string, unknown]][] = [
    [
      'metadata',
      (tier) => [{ metadata: { campaign: CAMPAIGNS[tier] } }, 'c.metadata @> $2::jsonb', JSON.stringify({ campaign: CAMPAIGNS[tier] })],
    ],
    [
      'text',
      (tier) => [
        { text: SESSION_MARKERS[tier].word },
        `EXISTS (SELECT 1 FROM conversation_search_steps t WHERE t.conversation_id = c.id AND t.tsv @@ websearch_to_tsquery(${TS_CONFIG}, $2))`,
        SESSION_MARKERS[tier].word,
      ],
    ],
  ];
  for (const [name, condition] of conversationConditions) {
    for (const tier of SEARCH_TIERS) {
      const [filter, sql, parameter] = condition(tier);
      const selected = await count(`SELECT count(*) AS n FROM conversations c WHERE c.tenant_id = $1 AND ${sql}`, [tenant, parameter]);
      const key = `search-conversations-${name}-${tier}`;
      add(
        'conversations',
        key,
        `conversations, ${name} ${tier}: ${JSON.stringify(filter)}`,
        'ConversationsTable',
        { first: PAGE_SIZE, filter },
        selected,
        conversations,
        {
          key: 'search-conversations-unfiltered',
          limit: FILTERED_PAGE_LIMIT,
        },
      );
      if (tier !== '10%') continue;
      const offset = deepOffset(selected);
      if (offset <= PAGE_SIZE) continue;
      const row = await rowAt(
        `SELECT c.last_activity_at AS value, c.id FROM conversations c WHERE c.tenant_id = $1 AND ${sql} ORDER BY c.last_activity_at DESC, c.id DESC`,
        [tenant, parameter],
        offset,
      );
      if (!row) continue;
      add(
        'conversations',
        `${key}-deep`,
        `conversations, ${name} ${tier}, page after ${offset.toLocaleString('en-US')}`,
        'ConversationsTable',
        {
          first: PAGE_SIZE,
          filter,
          after: encodeCursor('Conversation:LAST_ACTIVITY_AT', { value: new Date(row.value).toISOString(), id: row.id }),
        },
        selected,
        conversations,
        { key, limit: DEEP_PAGE_LIMIT },
      );
    }
  }
  // Cost above the 90th and 99th percentile: a range filter on the (tenant, cost_usd, id) index.
  for (const tier of ['10%', '1%'] as const) {
    const quantile = tier === '10%' ? 0.9 : 0.99;
    const bound = (
      await client.query<{ bound: string }>(
        `SELECT percentile_disc($2::float8) WITHIN GROUP (ORDER BY cost_usd)::text AS bound FROM conversations WHERE tenant_id = $1`,
        [tenant, quantile],
      )
    ).rows[0]!.bound;
    const selected = await count('SELECT count(*) AS n FROM conversations WHERE tenant_id = $1 AND cost_usd >= $2::numeric', [
      tenant,
      bound,
    ]);
    add(
      'conversations',
      `search-conversations-cost-${tier}`,
      `conversations, costUsd ${tier}: {"min":"${bound}"}`,
      'ConversationsTable',
      { first: PAGE_SIZE, filter: { costUsd: { min: bound } } },
      selected,
      conversations,
      { key: 'search-conversations-unfiltered', limit: FILTERED_PAGE_LIMIT },
    );
  }
  return cases;
}

/** EXPLAIN (ANALYZE, BUFFERS) of each read the request sent (reads only: EXPLAIN ANALYZE executes the statement). */
async function explainAll(client: Client, statements: readonly { text: string; values: unknown[] }[]): Promise<ExplainedStatement[]> {
  const explained: ExplainedStatement[] = [];
  await client.query('SET jit = off'); // as convoql's own connections run (src/db/client.ts)
  for (const statement of statements) {
    if (!/^\s*(SELECT|WITH)\b/i.test(statement.text) || /\b(INSERT|UPDATE|DELETE)\b/i.test(statement.text)) continue;
    const text = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values);
    const lines = text.rows.map((row) => row['QUERY PLAN']);
    const execution = /Execution Time: ([\d.]+) ms/.exec(lines.find((line) => line.startsWith('Execution Time')) ?? '');
    const scans = lines
      .map((line) => /(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using (\S+) )?on (\S+)/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => `${match[1]} ${match[2] ?? match[3]}`);
    explained.push({
      executionMs: execution ? Number(execution[1]) : NaN,
      scans: [...new Set(scans)],
      text: lines,
      sql: statement.text.replace(/\s+/g, ' ').trim(),
    });
  }
  return explained;
}

function checkTargets(cases: readonly SearchCase[], rows: readonly SearchRow[]): TargetCheck[] {
  const p50 = (key: string) => rows.find((row) => row.key === key)?.figures[1]?.p50Ms ?? null;
  const checks: TargetCheck[] = [];
  for (const testCase of cases) {
    if (!testCase.comparedWith) continue;
    const { key, limit } = testCase.comparedWith;
    const measured = p50(testCase.operation.key);
    const reference = p50(key);
    const ratio = measured !== null && reference !== null && reference > 0 ? measured / reference : null;
    checks.push({
      target: `${testCase.operation.label}: p50 ≤ ${limit} × ${key.replace(/^search-/, '')} p50 (1 conn)`,
      measured: ratio === null ? 'not run' : `${ratio.toFixed(2)}× (${measured!.toFixed(1)} vs ${reference!.toFixed(1)} ms)`,
      met: ratio === null ? null : ratio <= limit,
    });
  }
  const allowed = (row: SearchRow) => (row.list === 'searchMessages' ? 2 : 1);
  const over = rows.filter((row) => row.statements > allowed(row));
  checks.push({
    target: "SQL statements per request: 1 per page (searchMessages: 1 + one batch of the hits' sessions)",
    measured: over.length === 0 ? 'as allowed' : over.map((row) => `${row.key}: ${row.statements}`).join(', '),
    met: rows.length === 0 ? null : over.length === 0,
  });
  return checks;
}

function formatSearchTable(rows: readonly SearchRow[]): string {
  const header = [
    'operation',
    'selected',
    'p50 ms 1 conn',
    'req/s 16 conns',
    'p50 ms 16 conns',
    'SQL',
    'statement ms (EXPLAIN ANALYZE)',
    'scans',
  ];
  const lines = rows.map((row) => [
    row.label,
    `${row.selected.toLocaleString('en-US')} (${formatShare(row.selectivity)})`,
    row.figures[1]?.p50Ms?.toFixed(1) ?? '–',
    row.figures[16]?.requestsPerSecond.toFixed(0) ?? '–',
    row.figures[16]?.p50Ms?.toFixed(1) ?? '–',
    String(row.statements),
    row.plans.map((plan) => plan.executionMs.toFixed(1)).join(' + '),
    row.plans.flatMap((plan) => plan.scans).join('; '),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 || column === cells.length - 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [render(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(render)].join('\n');
}

function formatShare(share: number): string {
  const percent = share * 100;
  return `${percent >= 1 ? round(percent, 1) : percent >= 0.1 ? round(percent, 2) : round(percent, 3)} %`;
}
