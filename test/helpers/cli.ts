import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'convoql.js');

/** What a run of the `convoql` command gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Compiles dist/ if a source is newer than it (bin/build.js, as the command itself does), once per test file, so a
 * test's first command is not the one that pays for it; several test files may ask at once (the build takes a lock).
 */
export function ensureCliBuilt(): void {
  const { ensureBuild } = require(path.join(ROOT, 'bin', 'build.js')) as { ensureBuild(options?: { quiet?: boolean }): boolean };
  if (!ensureBuild({ quiet: true })) throw new Error('Compiling convoql failed; run `npm run build` to see why.');
}

/** A data directory of its own, so a run without DATABASE_URL never touches the developer's ./.data. */
const dataDir = mkdtempSync(path.join(tmpdir(), 'convoql-cli-test-'));

/**
 * Runs `convoql <args>` as a child process, as a user runs it (`npx convoql …`), with the given environment over the
 * test's (LOG_LEVEL silent unless given), and `input` on standard input.
 */
export function runCli(args: readonly string[], environment: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: dataDir, ...environment };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
