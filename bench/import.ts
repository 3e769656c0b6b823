// `npm run bench -- --only import`: `convoql import` of N messages (default 1,000,000, --quick 50,000; BENCH_IMPORT_MESSAGES)
// in sessions of 10, into a fresh database of its own (a new database on BENCH_DATABASE_URL's server, else a fresh embedded
// PGlite data directory), as a user runs it: the command in a child process, reading a file. Then the same file again,
// which must change nothing. Reports the wall time, messages per second and the command's peak RSS, against the target
// of 1,000,000 messages in 3 minutes.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { applyMigrations } from '../src/db/migrations';

const TARGET_SECONDS = 180;
const TARGET_MESSAGES = 1_000_000;
const MESSAGES_PER_SESSION = 10;

/** What one import run measured. */
export interface ImportRun {
  seconds: number;
  peakRssMb: number;
  summary: string;
}

/** Writes the NDJSON file: sessions of 10 messages with trace metadata, the way a backfill looks. */
async function writeFile(file: string, messages: number): Promise<number> {
  const out = createWriteStream(file);
  const sessions = Math.ceil(messages / MESSAGES_PER_SESSION);
  const start = Date.parse('2026-06-01T00:00:00.000Z');
  for (let s = 0; s < sessions; s++) {
    const startedAt = start + s * 60_000;
    const lines = [];
    for (let m = 0; m < MESSAGES_PER_SESSION && s * MESSAGES_PER_SESSION + m < messages; m++) {
      const user = m % 2 === 0;
      lines.push({
        clientMessageId: `m${m}`,
        role: user ? 'USER' : 'ASSISTANT',
        content: user
          ? `Where is my order A-${s}-${m}? It was due last week.`
          : `Order A-${s}-${m} shipped on Tuesday and arrives tomorrow.`,
        createdAt: new Date(startedAt + (m + 1) * 5_000).toISOString(),
        metadata: user ? {} : { model: 'gpt-4o-mini', usage: { inputTokens: 400 + m, outputTokens: 60 }, latencyMs: 900 },
      });
    }
    const line = JSON.stringify({
      sessionId: `import-${s}`,
      channel: s % 3 === 0 ? 'app' : 'web',
      status: s % 4 === 0 ? 'EXPIRED' : 'CLOSED',
      startedAt: new Date(startedAt).toISOString(),
      endedAt: new Date(startedAt + 120_000).toISOString(),
      metadata: { plan: s % 2 ? 'pro' : 'free', locale: 'en-US' },
      messages: lines,
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return sessions;
}

/** Runs `convoql import` as a child process, sampling its RSS every 100 ms. */
async function runImport(projectRoot: string, file: string, env: NodeJS.ProcessEnv): Promise<ImportRun> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [path.join(projectRoot, 'bin', 'convoql.js'), 'import', '--tenant', 'bench', '--no-progress', file],
    {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peak = Math.max(peak, kb);
    } catch {
      // exited
    }
  }, 100);
  const [code] = (await once(child, 'close')) as [number];
  clearInterval(sampler);
  if (code !== 0) throw new Error(`convoql import exited ${code}: ${stderr.trim()}`);
  return { seconds: (performance.now() - started) / 1000, peakRssMb: Math.round(peak / 1024), summary: stdout.trim() };
}

/** The import scenario; see the module header. */
export async function runImportBench(
  projectRoot: string,
  options: { quick: boolean; databaseUrl: string | undefined },
  log: (line: string) => void,
) {
  const messages = Number(process.env.BENCH_IMPORT_MESSAGES ?? (options.quick ? 50_000 : TARGET_MESSAGES));
  const dir = mkdtempSync(path.join(tmpdir(), 'convoql-bench-import-'));
  const file = path.join(dir, 'import.ndjson');
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
  let drop: (() => Promise<void>) | undefined;
  try {
    const sessions = await writeFile(file, messages);
    let where: string;
    if (options.databaseUrl) {
      const name = `bench_import_${process.pid}`;
      const admin = new Client({ connectionString: options.databaseUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(options.databaseUrl);
      url.pathname = `/${name}`;
      env.DATABASE_URL = url.toString();
      drop = async () => {
        const client = new Client({ connectionString: options.databaseUrl });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await client.end();
      };
      await applyMigrations(env.DATABASE_URL);
      where = `PostgreSQL (${url.host}/${name}, a new database)`;
    } else {
      delete env.DATABASE_URL;
      env.DATA_DIR = path.join(dir, 'data');
      where = 'embedded PGlite (a fresh data directory)';
    }
    // The tenant first (the embedded database is created and migrated by this command).
    const tenant = spawn(process.execPath, [path.join(projectRoot, 'bin', 'convoql.js'), 'tenant', 'create', 'bench'], {
      cwd: projectRoot,
      env,
      stdio: 'ignore',
    });
    await once(tenant, 'close');
    log(`import: ${messages.toLocaleString('en-US')} messages in ${sessions.toLocaleString('en-US')} sessions into ${where}`);
    const first = await runImport(projectRoot, file, env);
    log(
      `  first run:  ${first.seconds.toFixed(1)} s, ${Math.round(messages / first.seconds).toLocaleString('en-US')} messages/s, peak RSS ${first.peakRssMb} MB`,
    );
    log(`    ${first.summary}`);
    const again = await runImport(projectRoot, file, env);
    log(`  second run (changes nothing): ${again.seconds.toFixed(1)} s, peak RSS ${again.peakRssMb} MB`);
    log(`    ${again.summary}`);
    const projected = (first.seconds * TARGET_MESSAGES) / messages;
    log(
      `${projected <= TARGET_SECONDS ? 'MET ' : 'MISS'}  1,000,000 messages import in ≤ ${TARGET_SECONDS} s: ` +
        `${messages === TARGET_MESSAGES ? `${first.seconds.toFixed(1)} s` : `${projected.toFixed(0)} s projected from ${messages.toLocaleString('en-US')}`}`,
    );
    return { messages, first, again };
  } finally {
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  }
}
