// `npm run bench -- --startup`: how long what `npm start` runs (after its build) takes on a fresh
// embedded data directory — PGlite initdb, migrations, demo data, API key — until it answers the
// README's first query with the demo key. Three runs, each on a new directory.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { freePort, npmStartCommand } from './processes';

const RUNS = 3;
const TARGET_SECONDS = 15;
const GIVE_UP_MS = 120_000;
const FIRST_QUERY = '{ sessions(first: 5, filter: {status: [ACTIVE]}) { totalCount nodes { sessionId channel messageCount } } }';

/** Times fresh starts and prints each with its phases from the server's log. */
export async function runStartup(projectRoot: string, log: (line: string) => void): Promise<void> {
  const times: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const { seconds, phases } = await timeFreshStart(projectRoot);
    times.push(seconds);
    log(
      `start ${run}: first answer after ${seconds.toFixed(1)} s (${phases.map(([name, at]) => `${name} ${at.toFixed(1)} s`).join(', ')})`,
    );
  }
  const slowest = Math.max(...times);
  log(
    `${slowest <= TARGET_SECONDS ? 'MET ' : 'MISS'}  fresh embedded start answers its first query ≤ ${TARGET_SECONDS} s: slowest of ${RUNS} ${slowest.toFixed(1)} s`,
  );
}

async function timeFreshStart(projectRoot: string): Promise<{ seconds: number; phases: [string, number][] }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'convoql-startup-'));
  const port = await freePort();
  const { nodeFlags, script } = npmStartCommand(projectRoot);
  const started = performance.now();
  const startedAtMs = Date.now();
  const child = spawn(process.execPath, [...nodeFlags, path.join(projectRoot, script)], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  const phases: [string, number][] = [];
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    output.push(line);
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      if (entry.msg && entry.time) phases.push([entry.msg, (entry.time - startedAtMs) / 1000]);
    } catch {
      // Not a log line.
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  try {
    const keyFile = path.join(dataDir, 'demo-api-key');
    for (;;) {
      if (child.exitCode !== null) throw new Error(`convoql exited during start-up (${child.exitCode}): ${output.join('\n').slice(-2000)}`);
      if (performance.now() - started > GIVE_UP_MS)
        throw new Error(`convoql did not answer within ${GIVE_UP_MS / 1000} s: ${output.join('\n').slice(-2000)}`);
      if (existsSync(keyFile) && (await answers(port, readFileSync(keyFile, 'utf8').trim()))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { seconds: (performance.now() - started) / 1000, phases: phases.filter(([name]) => name !== 'graphql request') };
  } finally {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function answers(port: number, apiKey: string): Promise<boolean> {
  if (apiKey === '') return false;
  try {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: FIRST_QUERY }),
    });
    const body = (await response.json()) as { data?: { sessions?: unknown } };
    return response.ok && body.data?.sessions !== undefined;
  } catch {
    return false;
  }
}
