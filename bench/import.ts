// `npm run bench -- --only import`: `convoql import` of N messages (default 1,000,000, --quick 50,000; BENCH_IMPORT_MESSAGES)
// in sessions of 10 (BENCH_IMPORT_MESSAGES_PER_SESSION), into a fresh database of its own: a fresh embedded PGlite data
// directory (the default a user gets), then, when BENCH_DATABASE_URL names a PostgreSQL server, a new database
// convoql_import_<pid> there (dropped afterwards). As a user runs it: the command in a child process, reading a file.
// Then the same file again, which must change nothing. Reports the wall time, messages per second and the command's
// peak RSS per database, against the target of 1,000,000 messages in 3 minutes.
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
const MESSAGES_PER_SESSION = Number(process.env.BENCH_IMPORT_MESSAGES_PER_SESSION ?? 10);

/** What one import run measured. */
export interface ImportRun {
  seconds: number;
  peakRssMb: number;
  /** CPU seconds (user + system) of the import process (with PGlite inside it, on the embedded default). */
  cpuSeconds: number;
  /** CPU seconds of the PostgreSQL server processes serving the import's database; null on PGlite. */
  databaseCpuSeconds: number | null;
  summary: string;
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds, or null once it is gone. */
function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Writes the NDJSON file: sessions of MESSAGES_PER_SESSION messages with trace metadata, the way a backfill looks. */
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

/**
 * Runs `convoql import` as a child process, sampling its RSS and CPU time every 100 ms, and, on PostgreSQL, the CPU
 * time of the server processes connected to `database` (the same machine's /proc): the machine is shared, so CPU
 * seconds tell what the work costs whatever else runs.
 */
async function runImport(projectRoot: string, file: string, env: NodeJS.ProcessEnv, database: string | null): Promise<ImportRun> {
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
  let cpu = 0;
  const backends = new Map<number, number>();
  const watcher = database && env.DATABASE_URL ? new Client({ connectionString: env.DATABASE_URL }) : null;
  await watcher?.connect();
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peak = Math.max(peak, kb);
      cpu = cpuSecondsOf(child.pid!) ?? cpu;
    } catch {
      // exited
    }
    try {
      if (watcher) {
        const { rows } = await watcher.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [database],
        );
        for (const { pid } of rows) backends.set(pid, cpuSecondsOf(pid) ?? backends.get(pid) ?? 0);
      }
    } catch {
      // the database is going away
    } finally {
      sampling = false;
    }
  };
  const sampler = setInterval(() => void sample(), 100);
  const [code] = (await once(child, 'close')) as [number];
  clearInterval(sampler);
  await watcher?.end();
  if (code !== 0) throw new Error(`convoql import exited ${code}: ${stderr.trim()}`);
  return {
    seconds: (performance.now() - started) / 1000,
    peakRssMb: Math.round(peak / 1024),
    cpuSeconds: cpu,
    databaseCpuSeconds: watcher ? [...backends.values()].reduce((sum, value) => sum + value, 0) : null,
    summary: stdout.trim(),
  };
}

/** One line of CPU figures: what the run would take on two idle cores, bounded by its busiest process and by the sum. */
function describeCpu(run: ImportRun, messages: number): string {
  const total = run.cpuSeconds + (run.databaseCpuSeconds ?? 0);
  const busiest = Math.max(run.cpuSeconds, run.databaseCpuSeconds ?? 0);
  const rate = (seconds: number) => Math.round(messages / seconds).toLocaleString('en-US');
  return run.databaseCpuSeconds === null
    ? `CPU ${run.cpuSeconds.toFixed(1)} s (import and PGlite, one thread): ${rate(run.cpuSeconds)} messages per CPU second`
    : `CPU ${run.cpuSeconds.toFixed(1)} s import + ${run.databaseCpuSeconds.toFixed(1)} s PostgreSQL = ${total.toFixed(1)} s: ` +
        `${rate(total)} messages per CPU second, ${rate(busiest)}/s bound by the busier process on idle cores`;
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
  try {
    const sessions = await writeFile(file, messages);
    // BENCH_IMPORT_ON=pglite or postgresql measures one of them alone.
    const on = (process.env.BENCH_IMPORT_ON ?? 'pglite,postgresql').split(',');
    const runs = [];
    if (on.includes('pglite')) runs.push(await importInto(projectRoot, file, messages, sessions, undefined, dir, log));
    if (!on.includes('postgresql')) return runs;
    if (options.databaseUrl) runs.push(await importInto(projectRoot, file, messages, sessions, options.databaseUrl, dir, log));
    else log('import: PostgreSQL not measured (set BENCH_DATABASE_URL to a server, e.g. postgres://postgres@127.0.0.1:5432/postgres)');
    return runs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One database's measurement: a fresh embedded data directory (no server URL) or a new database on the server. */
async function importInto(
  projectRoot: string,
  file: string,
  messages: number,
  sessions: number,
  serverUrl: string | undefined,
  dir: string,
  log: (line: string) => void,
) {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
  let drop: (() => Promise<void>) | undefined;
  try {
    let where: string;
    if (serverUrl) {
      const name = `convoql_import_${process.pid}`;
      const admin = new Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      env.DATABASE_URL = url.toString();
      drop = async () => {
        const client = new Client({ connectionString: serverUrl });
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
    const database = serverUrl ? new URL(env.DATABASE_URL!).pathname.slice(1) : null;
    const first = await runImport(projectRoot, file, env, database);
    log(
      `  first run:  ${first.seconds.toFixed(1)} s, ${Math.round(messages / first.seconds).toLocaleString('en-US')} messages/s, peak RSS ${first.peakRssMb} MB`,
    );
    log(`    ${describeCpu(first, messages)}`);
    log(`    ${first.summary}`);
    const again = await runImport(projectRoot, file, env, database);
    log(`  second run (changes nothing): ${again.seconds.toFixed(1)} s, peak RSS ${again.peakRssMb} MB`);
    log(`    ${again.summary}`);
    const projected = (first.seconds * TARGET_MESSAGES) / messages;
    log(
      `${projected <= TARGET_SECONDS ? 'MET ' : 'MISS'}  1,000,000 messages import in ≤ ${TARGET_SECONDS} s on ${serverUrl ? 'PostgreSQL' : 'PGlite'}: ` +
        `${messages === TARGET_MESSAGES ? `${first.seconds.toFixed(1)} s` : `${projected.toFixed(0)} s projected from ${messages.toLocaleString('en-US')}`}`,
    );
    return { database: serverUrl ? 'postgresql' : 'pglite', messages, first, again };
  } finally {
    await drop?.();
    if (!serverUrl) rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  }
}
