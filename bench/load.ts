// Drives one server with autocannon for one segment and measures it from the outside: completed
// requests, every response's latency, failures of any kind, and SQL statements sent meanwhile.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { backendCpu, backendCpuBetween, machineCpuMs } from './database-cpu';
import type { BenchDatabase } from './dataset';
import type { BenchOperation } from './operations';
import { sampleRss, type ServerProcess } from './processes';

/** What one segment measured. */
export interface SegmentResult {
  /** Responses completed within the segment's window. */
  requests: number;
  seconds: number;
  /** Latency of each of those responses, ms. */
  latenciesMs: number[];
  /** Connection errors and timeouts, non-2xx answers, and 200 answers carrying GraphQL errors. */
  errors: { transport: number; http: number; graphql: number };
  /** Connections that received no answer at all during the segment (their request outlasted it). */
  stalledConnections: number;
  /** The start of the first failed answer's body, to tell what failed. */
  errorSample: string | null;
  /** What the server logged about those failures (set by the caller, which reads the server's log). */
  serverErrorLog: string | null;
  /** SQL statements per completed request while the segment ran (every statement the process sent). */
  statementsPerRequest: number | null;
  /** CPU time the server used per completed request (user + system), ms. */
  cpuMsPerRequest: number | null;
  /** CPU time of the PostgreSQL backends serving the server, per completed request, ms (PostgreSQL only). */
  databaseCpuMsPerRequest: number | null;
  /** CPU of every other process of the machine during the segment (other work, the load generator), % of one core. */
  otherCpuPercent: number | null;
  /** Highest RSS sampled during the segment, MB. */
  peakRssMb: number | null;
  /** The server's memory breakdown at the end of the segment, MB. */
  memoryMb: Record<keyof NodeJS.MemoryUsage, number>;
}

/** A GraphQL error object starts with its message; trace `errors` items start with `messageId`. */
const GRAPHQL_ERROR_MARKER = '"errors":[{"message":';
const REQUEST_TIMEOUT_SECONDS = 30;

/** Sends the operation over `connections` keep-alive connections for `seconds` and measures. */
export async function runSegment(
  database: BenchDatabase,
  server: ServerProcess,
  operation: BenchOperation,
  apiKey: string,
  connections: number,
  seconds: number,
): Promise<SegmentResult> {
  const latencies: number[] = [];
  let windowEnd = Number.POSITIVE_INFINITY;
  let allResponses = 0;
  let errorSample: string | null = null;
  let graphqlErrors = 0;
  const answeredClients = new Set<unknown>();
  const statementsBefore = await server.statementCount();
  const cpuBefore = server.cpuMs();
  const backendsBefore = await backendCpu(database, server.applicationName);
  const machineBefore = machineCpuMs();
  const stopSampling = sampleRss(server);
  const instance = autocannon({
    url: server.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, ...operation.headers },
    body: operation.body,
    connections,
    duration: seconds,
    timeout: REQUEST_TIMEOUT_SECONDS,
    // The status and body of every answer: a 200 may still carry GraphQL errors.
    requests: [
      {
        ...(operation.nextBody
          ? { setupRequest: (request: Record<string, unknown>) => ({ ...request, body: operation.nextBody!() }) }
          : {}),
        onResponse: (status, body) => {
          const failed = status >= 400 || body.includes(GRAPHQL_ERROR_MARKER) || !body.startsWith('{"data"');
          if (!failed) return;
          if (status < 400) graphqlErrors++;
          errorSample ??= `HTTP ${status} ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  const started = performance.now();
  windowEnd = started + seconds * 1000;
  instance.on('response', (client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    allResponses++;
    answeredClients.add(client);
    if (performance.now() <= windowEnd && statusCode < 400) latencies.push(responseTimeMs);
  });
  const result = await instance;
  const peakRssMb = stopSampling();
  const cpuAfter = server.cpuMs();
  const machineAfter = machineCpuMs();
  const databaseCpu = backendCpuBetween(backendsBefore, await backendCpu(database, server.applicationName));
  const serverCpu = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
  const statements = (await server.statementCount()) - statementsBefore;
  const usage = await server.memoryUsage();
  const memoryMb = Object.fromEntries(
    Object.entries(usage).map(([name, bytes]) => [name, Math.round(bytes / 1e5) / 10]),
  ) as SegmentResult['memoryMb'];
  return {
    requests: latencies.length,
    seconds,
    latenciesMs: latencies,
    errors: { transport: result.errors, http: result.non2xx, graphql: graphqlErrors },
    stalledConnections: Math.max(0, connections - answeredClients.size - result.errors),
    errorSample,
    serverErrorLog: null,
    statementsPerRequest: allResponses > 0 ? statements / allResponses : null,
    cpuMsPerRequest: allResponses > 0 && serverCpu !== null ? serverCpu / allResponses : null,
    databaseCpuMsPerRequest: allResponses > 0 && databaseCpu !== null ? databaseCpu / allResponses : null,
    otherCpuPercent:
      machineBefore !== null && machineAfter !== null && serverCpu !== null
        ? Math.max(0, (machineAfter - machineBefore - serverCpu - (databaseCpu ?? 0)) / (seconds * 10))
        : null,
    peakRssMb,
    memoryMb,
  };
}

/** Sends the operation once and returns the parsed answer, its latency and the statements it cost (run nothing else meanwhile). */
export async function requestOnce(
  server: ServerProcess,
  operation: BenchOperation,
  apiKey: string,
): Promise<{ status: number; body: unknown; statements: number; ms: number }> {
  const before = await server.statementCount();
  const started = performance.now();
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: operation.body,
  });
  const body: unknown = await response.json();
  const ms = performance.now() - started;
  return { status: response.status, body, statements: (await server.statementCount()) - before, ms };
}

/** The q-quantile (0..1) of latencies, ms, by the nearest-rank method. */
export function quantile(sortedMs: readonly number[], q: number): number | null {
  if (sortedMs.length === 0) return null;
  return sortedMs[Math.min(sortedMs.length - 1, Math.max(0, Math.ceil(q * sortedMs.length) - 1))]!;
}
