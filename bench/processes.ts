// The servers under test, each in a process of its own: convoql as `node dist/src/main.js` and the
// raw baseline, both with the server probe preloaded; their memory is read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { processCpuMs } from './database-cpu';
import type { CapturedStatement, ProbeReply, ProbeRequest } from './server-probe';

/** A server process under test. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** The application_name its database connections carry (see database-cpu.ts). */
  readonly applicationName: string;
  /** The GraphQL endpoint. */
  readonly url: string;
  /** SQL statements the process has sent since it started. */
  statementCount(): Promise<number>;
  /** Statements captured since the last call (BENCH_CAPTURE_STATEMENTS=1 only). */
  capturedStatements(): Promise<CapturedStatement[]>;
  /** The process's own memory breakdown (heap, external, array buffers), bytes. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  /** Runs a full garbage collection in the process, then returns its memory breakdown. */
  collectGarbage(): Promise<NodeJS.MemoryUsage>;
  /** Starts a V8 CPU profile of the process. */
  startProfile(): Promise<void>;
  /** Stops it and returns the .cpuprofile JSON. */
  stopProfile(): Promise<string>;
  /** CPU time (user + system) the process has used, ms. */
  cpuMs(): number | null;
  /** The end of what the process wrote to stdout and stderr (its log). */
  outputTail(): string;
  /** Resident memory now, MB. */
  rssMb(): number | null;
  /** Peak resident memory since start or the last resetPeakRss(), MB (VmHWM). */
  peakRssMb(): number | null;
  /** Starts a new VmHWM period (Linux clear_refs 5); false when the kernel refused. */
  resetPeakRss(): boolean;
  /** SIGTERM, then SIGKILL after 15 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** How to start a server process. */
export interface ServerSpec {
  name: string;
  /** The application_name its connection string sets. */
  applicationName: string;
  /** The script to run, relative to `root`. */
  script: string;
  /** The checkout the script is in; this project when left out (another one for an A/B of two versions). */
  root?: string;
  env: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Path answering 200 once the server is ready. */
  readyPath: string;
  /** Path of the GraphQL endpoint. */
  graphqlPath: string;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('Expected a TCP address for the probe server');
  return address.port;
}

/**
 * What `npm start` runs (package.json's `start`, `node [flags] <script>`), so that the benchmark measures the server
 * with the Node flags it runs with in production.
 */
export function npmStartCommand(projectRoot: string): { nodeFlags: string[]; script: string } {
  const start = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts
    ?.start;
  const words = (start ?? '').trim().split(/\s+/);
  const script = words.at(-1) ?? '';
  if (words[0] !== 'node' || !script.endsWith('.js')) {
    throw new Error(`Expected package.json's start script to be "node [flags] <script>.js", found ${JSON.stringify(start)}`);
  }
  return { nodeFlags: words.slice(1, -1), script };
}

/** Starts a server with the server probe preloaded and waits until it answers `readyPath`. */
export async function startServerProcess(projectRoot: string, spec: ServerSpec): Promise<ServerProcess> {
  const port = await freePort();
  const probe = path.join(projectRoot, 'dist', 'bench', 'server-probe.js');
  const root = spec.root ?? projectRoot;
  const child = spawn(process.execPath, [...(spec.nodeFlags ?? []), '--require', probe, path.join(root, spec.script)], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...spec.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  // Only the tail of the output is kept (about 1 MB), to explain a failed start, a crash or errors.
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 1_000) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${spec.name} exited during start-up (${child.exitCode ?? child.signalCode}): ${output.join('').trim().slice(-2000)}`,
      );
    }
    if (Date.now() - started > READY_TIMEOUT_MS) {
      child.kill('SIGKILL');
      throw new Error(
        `${spec.name} did not answer ${spec.readyPath} within ${READY_TIMEOUT_MS / 1000} s: ${output.join('').trim().slice(-2000)}`,
      );
    }
    const ready = await fetch(`${base}${spec.readyPath}`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ask = <T extends ProbeReply['type']>(request: ProbeRequest & { type: T }) =>
    new Promise<Extract<ProbeReply, { type: T }>>((resolve, reject) => {
      const onMessage = (reply: ProbeReply) => {
        if (reply.type !== request.type) return;
        child.off('message', onMessage);
        resolve(reply as Extract<ProbeReply, { type: T }>);
      };
      child.on('message', onMessage);
      if (!child.send(request)) reject(new Error(`${spec.name}: the IPC channel is closed`));
    });
  let stopping: Promise<void> | undefined;
  return {
    name: spec.name,
    pid: child.pid!,
    applicationName: spec.applicationName,
    url: `${base}${spec.graphqlPath}`,
    statementCount: async () => (await ask({ type: 'statement-count' })).count,
    capturedStatements: async () => (await ask({ type: 'captured-statements' })).statements,
    memoryUsage: async () => (await ask({ type: 'memory' })).usage,
    collectGarbage: async () => (await ask({ type: 'collect-garbage' })).usage,
    startProfile: async () => void (await ask({ type: 'profile-start' })),
    stopProfile: async () => (await ask({ type: 'profile-stop' })).profile,
    cpuMs: () => processCpuMs(child.pid!),
    outputTail: () => output.join(''),
    rssMb: () => statusFieldMb(child, 'VmRSS'),
    peakRssMb: () => statusFieldMb(child, 'VmHWM'),
    resetPeakRss: () => {
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
        return true;
      } catch {
        return false;
      }
    },
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/** A `VmRSS`-style line of /proc/<pid>/status in MB, or null when unreadable (not Linux, or the process ended). */
function statusFieldMb(child: ChildProcess, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a server's RSS every `intervalMs` until stopped; returns the highest sample, MB. */
export function sampleRss(server: ServerProcess, intervalMs = 100): () => number | null {
  let highest: number | null = null;
  const sample = () => {
    const rss = server.rssMb();
    if (rss !== null && (highest === null || rss > highest)) highest = rss;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return highest;
  };
}
