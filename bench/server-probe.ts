// Preloaded into each server under test (`node --require dist/bench/server-probe.js …`; never imported
// by src/): counts every SQL statement the process sends through node-postgres, which both Prisma's pg
// adapter and the baseline use, and answers the benchmark over the IPC channel: the statement count,
// the process's memory breakdown (also after a full garbage collection), a CPU profile of a chosen
// interval (through the inspector), and (with BENCH_CAPTURE_STATEMENTS=1) the last statements with
// their parameters, for EXPLAIN.
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import path from 'node:path';
import type pgModule from 'pg';

// The server's own node-postgres, found from its working directory: another checkout's in an A/B of two versions.
const pg = createRequire(path.join(process.cwd(), 'package.json'))('pg') as typeof pgModule;

/** What the benchmark asks a server over IPC. */
export type ProbeRequest =
  | { type: 'statement-count' }
  | { type: 'captured-statements' }
  | { type: 'memory' }
  | { type: 'collect-garbage' }
  | { type: 'profile-start' }
  | { type: 'profile-stop' };

/** What a server answers. */
export type ProbeReply =
  | { type: 'statement-count'; count: number }
  | { type: 'captured-statements'; statements: CapturedStatement[] }
  | { type: 'memory'; usage: NodeJS.MemoryUsage }
  | { type: 'collect-garbage'; usage: NodeJS.MemoryUsage }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; profile: string };

/** A statement as sent to PostgreSQL. */
export interface CapturedStatement {
  text: string;
  values: unknown[];
}

const CAPTURE_LIMIT = 200;
const capturing = process.env.BENCH_CAPTURE_STATEMENTS === '1';
const captured: CapturedStatement[] = [];
let count = 0;

type Query = (this: pgModule.Client, ...args: unknown[]) => unknown;
const prototype = pg.Client.prototype as unknown as { query: Query };
const originalQuery = prototype.query;
prototype.query = function countedQuery(this: pgModule.Client, ...args: unknown[]) {
  count++;
  if (capturing) {
    const [first, second] = args;
    const config = typeof first === 'object' && first !== null ? (first as { text?: string; values?: unknown[] }) : undefined;
    const text = typeof first === 'string' ? first : (config?.text ?? '');
    const values = Array.isArray(second) ? second : (config?.values ?? []);
    captured.push({ text, values });
    if (captured.length > CAPTURE_LIMIT) captured.shift();
  }
  return originalQuery.apply(this, args);
};

let profiler: Session | undefined;

function post(session: Session, method: string, params: object = {}): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

async function answer(request: ProbeRequest): Promise<ProbeReply> {
  switch (request.type) {
    case 'statement-count':
      return { type: 'statement-count', count };
    case 'captured-statements':
      return { type: 'captured-statements', statements: captured.splice(0) };
    case 'memory':
      return { type: 'memory', usage: process.memoryUsage() };
    case 'collect-garbage': {
      // A full collection through the inspector, so that what is left is what the process still holds.
      const session = new Session();
      session.connect();
      await post(session, 'HeapProfiler.collectGarbage');
      session.disconnect();
      return { type: 'collect-garbage', usage: process.memoryUsage() };
    }
    case 'profile-start':
      profiler = new Session();
      profiler.connect();
      await post(profiler, 'Profiler.enable');
      await post(profiler, 'Profiler.start');
      return { type: 'profile-start' };
    case 'profile-stop': {
      if (!profiler) throw new Error('profile-stop without profile-start');
      const { profile } = (await post(profiler, 'Profiler.stop')) as { profile: object };
      profiler.disconnect();
      profiler = undefined;
      return { type: 'profile-stop', profile: JSON.stringify(profile) };
    }
  }
}

if (process.send) {
  process.on('message', (request: ProbeRequest) => {
    answer(request).then(
      (reply) => process.send?.(reply),
      (error: unknown) => process.stderr.write(`server probe: ${String(error)}\n`),
    );
  });
  // The channel must not keep the server alive once it has shut down (a CPU profile is written at exit).
  process.channel?.unref();
}
