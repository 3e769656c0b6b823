import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { importSessions, type ImportSummary } from '../sessions/session.import';
import { assertTenantExists, cliConfig, cliTenantContext, UsageError, withDatabase } from './cli-support';

/** Options of `convoql import`. */
export interface ImportCommandOptions {
  tenant: string;
  strict?: boolean;
  /** Show progress; default: when standard error is a terminal. */
  progress?: boolean;
}

/**
 * `convoql import [file]`: NDJSON from a file or standard input into a tenant. Bad lines are reported on standard error
 * with their number and reason (the rest goes on, unless --strict); a summary ends the run; exit code 1 when any line
 * was bad.
 */
export async function importCommand(file: string | undefined, options: ImportCommandOptions): Promise<void> {
  const fromStdin = file === undefined || file === '-';
  let size: number | null = null;
  if (!fromStdin) {
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new UsageError(`${file} is not a file; pass an NDJSON file, or - for standard input.`);
      size = stat.size;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(
        `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`,
      );
    }
  } else if (process.stdin.isTTY) {
    throw new UsageError('Pass an NDJSON file, or pipe one into standard input (`convoql import --tenant <id> < sessions.ndjson`).');
  }
  const config = cliConfig();
  await withDatabase(config, async ({ db }, logger) => {
    await assertTenantExists(db, options.tenant, '--tenant');
    const input: Readable = fromStdin ? process.stdin : createReadStream(file!);
    const progress = new Progress(options.progress ?? process.stderr.isTTY === true, size);
    let bytes = 0;
    const lines = createInterface({ input, crlfDelay: Infinity });
    const counted = (async function* () {
      for await (const line of lines) {
        bytes += Buffer.byteLength(line) + 1;
        yield line;
      }
    })();
    const started = performance.now();
    const summary = await importSessions(cliTenantContext(db, config, logger, options.tenant, 'import'), counted, {
      strict: options.strict ?? false,
      onProblem: (problem) => {
        progress.clear();
        process.stderr.write(`line ${problem.line}${problem.sessionId ? ` (session ${problem.sessionId})` : ''}: ${problem.reason}\n`);
      },
      onProgress: (sofar) => progress.show(sofar, bytes, started),
    });
    input.destroy();
    progress.clear();
    const seconds = (performance.now() - started) / 1000;
    console.log(describeImport(options.tenant, summary, seconds));
    if (summary.stoppedAtLine !== null) {
      process.stderr.write(
        `Stopped at line ${summary.stoppedAtLine} (--strict); the lines before it are imported, so a rerun after fixing it is safe.\n`,
      );
    }
    if (summary.badLines > 0) process.exitCode = 1;
  });
}

/** The end-of-run summary, one line. */
export function describeImport(tenant: string, summary: ImportSummary, seconds: number): string {
  const rate = seconds > 0 ? Math.round(summary.messagesWritten / seconds) : 0;
  return (
    `Imported ${summary.lines - summary.badLines} of ${summary.lines} lines into tenant ${tenant} in ${seconds.toFixed(1)} s: ` +
    `${summary.sessionsCreated} session${summary.sessionsCreated === 1 ? '' : 's'} created, ${summary.sessionsExisting} already there, ${summary.sessionsEnded} ended; ` +
    `${summary.messagesWritten} message${summary.messagesWritten === 1 ? '' : 's'} written, ${summary.messagesDuplicate} already there` +
    `${summary.messagesWritten > 0 ? ` (${rate.toLocaleString('en-US')} messages/s)` : ''}; ${summary.badLines} bad line${summary.badLines === 1 ? '' : 's'}.`
  );
}

/** A progress line on standard error, redrawn at most 10 times a second; a bar when the input's size is known. */
class Progress {
  private shownAt = 0;
  private visible = false;

  constructor(
    private readonly enabled: boolean,
    private readonly size: number | null,
  ) {}

  show(summary: Readonly<ImportSummary>, bytes: number, started: number): void {
    const now = performance.now();
    if (!this.enabled || now - this.shownAt < 100) return;
    this.shownAt = now;
    const rate = Math.round((summary.messagesWritten + summary.messagesDuplicate) / ((now - started) / 1000));
    let bar = '';
    if (this.size) {
      const done = Math.min(1, bytes / this.size);
      const width = 24;
      bar = `[${'#'.repeat(Math.round(done * width)).padEnd(width, '.')}] ${(done * 100).toFixed(0).padStart(3)}% `;
    }
    process.stderr.write(
      `\r${bar}${summary.lines.toLocaleString('en-US')} lines, ${(summary.messagesWritten + summary.messagesDuplicate).toLocaleString('en-US')} messages ` +
        `(${rate.toLocaleString('en-US')}/s), ${summary.badLines} bad\u001b[K`,
    );
    this.visible = true;
  }

  clear(): void {
    if (this.visible) process.stderr.write('\r\u001b[K');
    this.visible = false;
  }
}
