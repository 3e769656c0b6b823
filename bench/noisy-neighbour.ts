// The noisy-neighbour scenario: tenant A sends the costliest operation the limits admit at 64 connections while
// tenant B loads its sessions table at 4; B's throughput with A is compared with B's alone, on one convoql server.
import { tenantAt } from '../prisma/seed/content';
import { createApiKey } from '../src/api-keys/api-key.repository';
import { createDatabase } from '../src/db/client';
import { toGlobalId } from './baseline/encoding';
import type { BenchDatabase, Fixtures } from './dataset';
import { requestOnce, runSegment, type SegmentResult } from './load';
import type { BenchOperation } from './operations';
import type { ServerProcess } from './processes';
import { round, type TargetCheck } from './report';

/** The key of the scenario for --only. */
export const NOISY_NEIGHBOUR_KEY = 'noisy-neighbour';
const A_CONNECTIONS = 64;
const B_CONNECTIONS = 4;
const KEY_NAME = 'convoql-bench-noisy';

/**
 * A's operation: 100 sessions by id, each with a page of messages and its trace, as large as fits the default
 * MAX_QUERY_COST of 20,000: 1 + 100 * (1 + 45 * 4 + 1 + 1 + 4) = 18,701 (the shape, refused at 100 messages).
 */
function heavyOperation(sessionIds: readonly string[]): BenchOperation {
  const query = `query Heavy($ids: [ID!]!) {
    nodes(ids: $ids) {
      ... on Session {
        messages(first: 45) { nodes { id content metadata } }
        trace { counts { retrievals toolCalls failedToolCalls errors } }
      }
    }
  }`;
  return {
    key: 'noisy-heavy',
    label: 'tenant A: 100 sessions by id with 45 messages and the trace each',
    operationName: 'Heavy',
    body: JSON.stringify({ query, operationName: 'Heavy', variables: { ids: sessionIds.map((id) => toGlobalId('Session', id)) } }),
  };
}

/** Figures of one configuration of the scenario. */
export interface NoisyNeighbourResult {
  readonly configuration: string;
  readonly env: Record<string, string>;
  readonly heavyCost: number | null;
  readonly bAloneRps: number;
  readonly bWithARps: number;
  readonly ratio: number | null;
  readonly bErrors: number;
  readonly bErrorSample: string | null;
  readonly bP95WithAMs: number | null;
  readonly aCompletedRps: number;
  readonly aRefused: number;
  readonly peakRssMb: number | null;
}

/**
 * Runs the scenario on a server started by `start` with `env` over the configuration's default: B alone, then B with
 * A, twice (A B A B), each `seconds` long.
 */
export async function runNoisyNeighbour(options: {
  database: BenchDatabase;
  fixtures: Fixtures;
  sessionsTable: BenchOperation;
  configuration: string;
  env: Record<string, string>;
  start: (env: Record<string, string>) => Promise<ServerProcess>;
  seconds: number;
  log: (line: string) => void;
}): Promise<NoisyNeighbourResult> {
  const { database, fixtures, sessionsTable, log } = options;
  const tenantA = tenantAt(1).id;
  const db = createDatabase(database.url, { poolMax: 1 });
  let aKey: string;
  let sessionIds: string[];
  try {
    await db.prisma.apiKey.deleteMany({ where: { name: KEY_NAME } });
    ({ key: aKey } = await createApiKey(db, { tenantId: tenantA, name: KEY_NAME, scopes: ['read'] }));
    // The sessions with the most messages: the most work per id.
    const rows = await db.prisma.$queryRaw<{ session_id: string }[]>`
      SELECT session_id FROM messages WHERE tenant_id = ${tenantA} GROUP BY session_id ORDER BY count(*) DESC, session_id LIMIT 100`;
    sessionIds = rows.map((row) => row.session_id);
  } finally {
    await db.close();
  }
  const heavy = heavyOperation(sessionIds);
  const server = await options.start(options.env);
  try {
    const once = await requestOnce(server, heavy, aKey);
    const body = once.body as { errors?: unknown[]; extensions?: { cost?: { requested?: number } } };
    if (body.errors) throw new Error(`Expected tenant A's operation to be admitted, got ${JSON.stringify(body.errors).slice(0, 300)}`);
    const heavyCost = body.extensions?.cost?.requested ?? null;
    log(`noisy neighbour (${options.configuration}): A's operation costs ${heavyCost}, answers ${(once.ms / 1000).toFixed(2)} s alone`);
    // Warm-up of B's operation; then let A's budget, if any, fill up again before the first measured segment.
    await runSegment(database, server, sessionsTable, fixtures.apiKey, B_CONNECTIONS, 1);
    const alone: SegmentResult[] = [];
    const withA: SegmentResult[] = [];
    const aSegments: SegmentResult[] = [];
    for (let pass = 0; pass < 2; pass++) {
      alone.push(await runSegment(database, server, sessionsTable, fixtures.apiKey, B_CONNECTIONS, options.seconds));
      server.resetPeakRss();
      const [b, a] = await Promise.all([
        runSegment(database, server, sessionsTable, fixtures.apiKey, B_CONNECTIONS, options.seconds),
        runSegment(database, server, heavy, aKey, A_CONNECTIONS, options.seconds),
      ]);
      withA.push(b!);
      aSegments.push(a!);
    }
    const rps = (segments: SegmentResult[]) =>
      segments.reduce((sum, segment) => sum + segment.requests, 0) / segments.reduce((sum, segment) => sum + segment.seconds, 0);
    const latencies = withA.flatMap((segment) => segment.latenciesMs).sort((x, y) => x - y);
    const peaks = [...withA, ...aSegments].map((segment) => segment.peakRssMb).filter((value): value is number => value !== null);
    const errorsOf = (segment: SegmentResult) => segment.errors.transport + segment.errors.http + segment.errors.graphql;
    const result: NoisyNeighbourResult = {
      configuration: options.configuration,
      env: options.env,
      heavyCost,
      bAloneRps: round(rps(alone), 1),
      bWithARps: round(rps(withA), 1),
      ratio: rps(alone) > 0 ? round(rps(withA) / rps(alone), 2) : null,
      bErrors: [...alone, ...withA].reduce((sum, segment) => sum + errorsOf(segment), 0),
      bErrorSample: [...alone, ...withA].find((segment) => segment.errorSample !== null)?.errorSample ?? null,
      bP95WithAMs: latencies.length > 0 ? round(latencies[Math.ceil(0.95 * latencies.length) - 1]!, 1) : null,
      aCompletedRps: round(rps(aSegments), 1),
      aRefused: aSegments.reduce((sum, segment) => sum + errorsOf(segment), 0),
      peakRssMb: peaks.length > 0 ? round(Math.max(...peaks), 1) : null,
    };
    log(
      `  B alone ${result.bAloneRps} req/s, with A ${result.bWithARps} req/s (${result.ratio}×), B errors ${result.bErrors}, ` +
        `B p95 with A ${result.bP95WithAMs} ms; A completed ${result.aCompletedRps} req/s, refused ${result.aRefused}; peak RSS ${result.peakRssMb} MB`,
    );
    return result;
  } finally {
    await server.stop();
  }
}

/** The targets for one configuration's figures. */
export function noisyNeighbourTargets(result: NoisyNeighbourResult): TargetCheck[] {
  return [
    {
      target: `noisy neighbour (${result.configuration}): B with A >= 0.7x B alone`,
      measured: `${result.ratio}x`,
      met: (result.ratio ?? 0) >= 0.7,
    },
    { target: `noisy neighbour (${result.configuration}): B has 0 errors`, measured: String(result.bErrors), met: result.bErrors === 0 },
    {
      target: `noisy neighbour (${result.configuration}): peak RSS <= 250 MB`,
      measured: `${result.peakRssMb ?? '–'} MB`,
      met: result.peakRssMb === null ? null : result.peakRssMb <= 250,
    },
  ];
}
