import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { coerceInputValue, GraphQLError, isInputType, type GraphQLSchema } from 'graphql';
import { assertValidSessionFilter, type SessionFilter } from '../sessions/session.inputs';
import { exportSessions } from '../sessions/session.export';
import { openReadReplicas } from '../db/read-replicas';
import { buildSchema } from '../server/schema';
import { assertTenantExists, cliConfig, cliTenantContext, UsageError, withDatabase } from './cli-support';

/** Options of `convoql export`. */
export interface ExportCommandOptions {
  tenant: string;
  from?: string;
  to?: string;
  filter?: string;
  output?: string;
}

/**
 * The SessionFilter of `--filter` (JSON, as the sessions query takes it) with `--from`/`--to` as its
 * startedAfter/startedBefore, checked exactly as the API checks the argument: coerced through the schema's input
 * type (enums, DateTime, unknown fields) and then by the filter's own rules.
 */
export function parseExportFilter(
  schema: GraphQLSchema,
  options: Pick<ExportCommandOptions, 'from' | 'to' | 'filter'>,
): SessionFilter | null {
  let value: Record<string, unknown> = {};
  if (options.filter !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(options.filter);
    } catch (error) {
      throw new UsageError(`--filter expected a SessionFilter as JSON like '{"status":["CLOSED"]}': ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(
        `--filter expected a JSON object (a SessionFilter), received ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`,
      );
    }
    value = parsed as Record<string, unknown>;
  }
  for (const [option, field] of [
    ['from', 'startedAfter'],
    ['to', 'startedBefore'],
  ] as const) {
    if (options[option] === undefined) continue;
    if (value[field] !== undefined) throw new UsageError(`Pass --${option} or ${field} in --filter, not both.`);
    value = { ...value, [field]: options[option] };
  }
  if (Object.keys(value).length === 0) return null;
  const type = schema.getType('SessionFilter');
  if (!type || !isInputType(type)) throw new Error('The schema has no SessionFilter input type.');
  const problems: string[] = [];
  const filter = coerceInputValue(value, type, (path, _invalid, error) => {
    const field = path.length ? path.join('.').replace(/\.(\d+)/g, '[$1]') : '';
    const option =
      field === 'startedAfter' && options.from
        ? '--from'
        : field === 'startedBefore' && options.to
          ? '--to'
          : `--filter${field ? `.${field}` : ''}`;
    problems.push(`${option}: ${error.message}`);
  }) as SessionFilter;
  if (problems.length > 0) throw new UsageError(problems[0]!);
  if (options.from && options.to && filter.startedAfter && filter.startedBefore && filter.startedAfter >= filter.startedBefore) {
    throw new UsageError(`--from (${options.from}) must be before --to (${options.to}).`);
  }
  try {
    assertValidSessionFilter(filter, '--filter');
  } catch (error) {
    if (error instanceof GraphQLError) throw new UsageError(error.message);
    throw error;
  }
  return filter;
}

/** `convoql export`: the tenant's sessions as NDJSON on standard output or to --output; a summary on standard error. */
export async function exportCommand(options: ExportCommandOptions): Promise<void> {
  const filter = parseExportFilter(await buildSchema(), options);
  const config = cliConfig();
  await withDatabase(config, async ({ db }, logger) => {
    await assertTenantExists(db, options.tenant, '--tenant');
    // With DATABASE_READ_URL, the export reads from a replica that answered (the primary when none does).
    const replicas = await openReadReplicas(db, config, logger);
    const out: Writable = options.output ? createWriteStream(options.output) : process.stdout;
    const started = performance.now();
    const context = cliTenantContext(db, config, logger, options.tenant, 'export', replicas?.reader());
    const summary = await exportSessions(context, filter, async (chunk) => {
      if (!out.write(chunk)) await once(out, 'drain');
    }).finally(() => replicas?.close());
    if (options.output) {
      out.end();
      await once(out, 'finish');
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `Exported ${summary.sessions} session${summary.sessions === 1 ? '' : 's'} and ${summary.messages} message${summary.messages === 1 ? '' : 's'} ` +
        `of tenant ${options.tenant}${options.output ? ` to ${options.output}` : ''} in ${seconds} s.\n`,
    );
  });
}
