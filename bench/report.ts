// Aggregates the measured segments into the results table, checks the targets, and writes the JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { quantile, type SegmentResult } from './load';

/** One server's figures for one operation at one connection count (its A or B segments combined). */
export interface ServerFigures {
  requestsPerSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  errors: number;
  /** Most connections of one segment that got no answer within it (requests slower than the segment). */
  stalledConnections: number;
  /** The start of a failed answer, when there were errors. */
  errorSample: string | null;
  /** The server's own words about those errors. */
  serverErrorLog: string | null;
  /** Average under load: every statement the process sent / completed requests. */
  statementsPerRequestUnderLoad: number | null;
  /** Server CPU time (user + system) per request, ms: what limits throughput on a machine of two cores. */
  cpuMsPerRequest: number | null;
  /** CPU time of its PostgreSQL backends per request, ms (PostgreSQL only). */
  databaseCpuMsPerRequest: number | null;
  /** Other processes' CPU during its segments (noise and the load generator), % of one core. */
  otherCpuPercent: number | null;
  peakRssMb: number | null;
  /** Requests per second of each segment, in run order (A B A B shows drift). */
  segmentRequestsPerSecond: number[];
  /** The process's memory breakdown at the end of its last segment, MB. */
  memoryAtEndMb: SegmentResult['memoryMb'] | null;
}

/** One row of the table. */
export interface ResultRow {
  operation: string;
  label: string;
  connections: number;
  /** Length of each of the row's four segments. */
  segmentSeconds: number;
  convoql: ServerFigures;
  baseline: ServerFigures;
  /** convoql / baseline requests per second. */
  throughputRatio: number | null;
  /** SQL statements of one request, measured alone after a warm-up. */
  statementsPerRequest: { convoql: number | null; baseline: number | null };
}

/** A target of the issue and whether this run met it. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Combines the segments of one server (in run order) into its figures. */
export function combineSegments(segments: readonly SegmentResult[]): ServerFigures {
  const latencies = segments.flatMap((segment) => segment.latenciesMs).sort((a, b) => a - b);
  const requests = segments.reduce((sum, segment) => sum + segment.requests, 0);
  const seconds = segments.reduce((sum, segment) => sum + segment.seconds, 0);
  const statementRates = segments.map((segment) => segment.statementsPerRequest).filter((rate): rate is number => rate !== null);
  const rss = segments.map((segment) => segment.peakRssMb).filter((value): value is number => value !== null);
  return {
    requestsPerSecond: seconds > 0 ? requests / seconds : 0,
    p50Ms: quantile(latencies, 0.5),
    p95Ms: quantile(latencies, 0.95),
    p99Ms: quantile(latencies, 0.99),
    errors: segments.reduce((sum, segment) => sum + segment.errors.transport + segment.errors.http + segment.errors.graphql, 0),
    stalledConnections: Math.max(0, ...segments.map((segment) => segment.stalledConnections)),
    errorSample: segments.find((segment) => segment.errorSample !== null)?.errorSample ?? null,
    serverErrorLog: segments.find((segment) => segment.serverErrorLog !== null)?.serverErrorLog ?? null,
    statementsPerRequestUnderLoad: statementRates.length > 0 ? statementRates.reduce((a, b) => a + b, 0) / statementRates.length : null,
    cpuMsPerRequest: average(segments.map((segment) => segment.cpuMsPerRequest)),
    databaseCpuMsPerRequest: average(segments.map((segment) => segment.databaseCpuMsPerRequest)),
    otherCpuPercent: average(segments.map((segment) => segment.otherCpuPercent)),
    peakRssMb: rss.length > 0 ? Math.max(...rss) : null,
    segmentRequestsPerSecond: segments.map((segment) => round(segment.requests / segment.seconds, 1)),
    memoryAtEndMb: segments.at(-1)?.memoryMb ?? null,
  };
}

function average(values: (number | null)[]): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : null;
}

/** The results table as text, one row per operation and connection count. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = [
    'operation',
    'conns',
    'req/s convoql',
    'req/s baseline',
    'ratio',
    'p50 ms c / b',
    'p95 ms c / b',
    'p99 ms c / b',
    'errors c / b',
    'SQL/req c / b',
    'CPU ms/req c / b',
    'DB CPU ms/req c / b',
    'other CPU %',
    'peak RSS MB c / b',
  ];
  const lines = rows.map((row) => [
    row.label,
    String(row.connections),
    rate(row.convoql.requestsPerSecond),
    rate(row.baseline.requestsPerSecond),
    row.throughputRatio === null ? '–' : `${fixed(row.throughputRatio, 2)}×`,
    pair(row.convoql.p50Ms, row.baseline.p50Ms, 1),
    pair(row.convoql.p95Ms, row.baseline.p95Ms, 1),
    pair(row.convoql.p99Ms, row.baseline.p99Ms, 1),
    `${errorsCell(row.convoql)} / ${errorsCell(row.baseline)}`,
    pair(row.statementsPerRequest.convoql, row.statementsPerRequest.baseline, 0),
    pair(row.convoql.cpuMsPerRequest, row.baseline.cpuMsPerRequest, 2),
    pair(row.convoql.databaseCpuMsPerRequest, row.baseline.databaseCpuMsPerRequest, 2),
    fixed(average([row.convoql.otherCpuPercent, row.baseline.otherCpuPercent]), 0),
    pair(row.convoql.peakRssMb, row.baseline.peakRssMb, 0),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  const body: string[] = [];
  rows.forEach((row, index) => {
    if (index > 0 && rows[index - 1]!.operation !== row.operation) body.push('');
    body.push(render(lines[index]!));
  });
  return [render(header), rule, ...body].join('\n');
}

/** The target checks as text lines. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  const width = Math.max(...checks.map((check) => check.target.length));
  return checks
    .map((check) => `${check.met === null ? 'n/a ' : check.met ? 'MET ' : 'MISS'}  ${check.target.padEnd(width)}  ${check.measured}`)
    .join('\n');
}

/** Writes the results to bench/results/<UTC date and time>.json and returns the path. */
export function writeResults(projectRoot: string, results: object): string {
  const directory = path.join(projectRoot, 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  const file = path.join(
    directory,
    `${new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Errors, and connections left without any answer in a segment (`+N stalled`). */
function errorsCell(figures: ServerFigures): string {
  return figures.stalledConnections > 0 ? `${figures.errors} +${figures.stalledConnections} stalled` : String(figures.errors);
}

/** Requests per second: whole numbers, or one decimal below 10 (the usage tiles answer a few per second). */
function rate(value: number): string {
  return value.toFixed(value < 10 ? 1 : 0);
}

function fixed(value: number | null, digits: number): string {
  return value === null ? '–' : value.toFixed(digits);
}

function pair(convoql: number | null, baseline: number | null, digits: number): string {
  return `${fixed(convoql, digits)} / ${fixed(baseline, digits)}`;
}
