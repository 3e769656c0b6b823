// The agent-side cost of convoql's triggers on LangGraph's tables (`npm run bench -- --only checkpoint-trigger`,
// decision 0015): LangGraph's own PostgresSaver writes checkpoints (put: the `messages` blob, the checkpoint row) and
// their task writes (putWrites: two rows) as fast as it can, on a database of its own, with convoql's
// checkpoints_live and checkpoint_writes_live triggers enabled and disabled in alternating segments (A B A B), while a
// client LISTENs on the live channel as a convoql process does. Reported: checkpoints written per second each way.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { emptyCheckpoint, type Checkpoint } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { Client, Pool } from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { applyMigrations } from '../src/db/migrations';
import { LIVE_EVENTS_CHANNEL } from '../src/db/notifications';

export const CHECKPOINT_TRIGGER_KEY = 'checkpoint-trigger';

/** Checkpoints per thread before a writer starts a new thread (keeps the messages blob small and steady). */
const STEPS_PER_THREAD = 20;
/** Messages of ~200 bytes each: a thread's list is rewritten at every checkpoint, as MessagesAnnotation does. */
const MESSAGE = { lc: 1, type: 'constructor', id: ['langchain_core', 'messages', 'AIMessage'], kwargs: { content: 'x'.repeat(150) } };

let sequence = 0;

/**
 * A checkpoint id that sorts after every id made before it in this process (time, then a sequence), in the uuid shape
 * of LangGraph's uuid6 ids: convoql orders a thread's checkpoints by id.
 */
export function nextCheckpointId(): string {
  const time = Date.now().toString(16).padStart(12, '0');
  const seq = (sequence++ % 0x1000).toString(16).padStart(3, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-6${seq}-8000-${randomUUID().slice(-12)}`;
}

interface SegmentResult {
  triggers: boolean;
  checkpoints: number;
  seconds: number;
}

/** One writer: a LangGraph run of STEPS_PER_THREAD supersteps per thread, until `until`. */
async function writeUntil(saver: PostgresSaver, until: number): Promise<number> {
  let written = 0;
  while (performance.now() < until) {
    const threadId = `bench-ckpt-${randomUUID()}`;
    let config = { configurable: { thread_id: threadId, checkpoint_ns: '' } };
    const messages: unknown[] = [];
    for (let step = -1; step < STEPS_PER_THREAD - 1 && performance.now() < until; step++) {
      messages.push({ ...MESSAGE, kwargs: { ...MESSAGE.kwargs, id: randomUUID() } });
      const checkpoint: Checkpoint = {
        ...emptyCheckpoint(),
        id: nextCheckpointId(),
        ts: new Date().toISOString(),
        channel_values: { messages: [...messages] },
        channel_versions: { messages: step + 2 },
        versions_seen: { agent: { messages: step + 1 } },
      };
      config = (await saver.put(
        config,
        checkpoint,
        { source: step < 0 ? 'input' : 'loop', step, parents: {} },
        { messages: step + 2 },
      )) as typeof config;
      await saver.putWrites(
        config,
        [
          ['messages', [messages.at(-1)]],
          ['branch:to:agent', null],
        ],
        randomUUID(),
      );
      written++;
    }
  }
  return written;
}

/** Runs the scenario on a new database (BENCH_DATABASE_URL's server) or a fresh in-memory embedded PGlite. */
export async function runCheckpointTrigger(options: { quick: boolean; databaseUrl: string | undefined }, log: (line: string) => void) {
  const seconds = options.quick ? 3 : 8;
  let url: string;
  let cleanup: () => Promise<void>;
  let writers: number[];
  if (options.databaseUrl) {
    const name = `bench_ckpt_trigger_${process.pid}`;
    const admin = new Client({ connectionString: options.databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const parsed = new URL(options.databaseUrl);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
    cleanup = async () => {
      const client = new Client({ connectionString: options.databaseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
    writers = [1, 4];
    log(`checkpoint-trigger: PostgreSQL (${parsed.host}/${name}, a new database), ${seconds} s segments`);
  } else {
    const embedded = await startEmbeddedPostgres({});
    url = embedded.connectionString;
    cleanup = () => embedded.stop();
    // PGlite is one session: one writer (its owner LISTENs already).
    writers = [1];
    log(`checkpoint-trigger: embedded PGlite (in memory, in this process), ${seconds} s segments`);
  }
  const listener = options.databaseUrl ? new Client({ connectionString: url }) : null;
  try {
    await applyMigrations(url);
    let notifications = 0;
    if (listener) {
      await listener.connect();
      listener.on('notification', () => notifications++);
      await listener.query(`LISTEN ${LIVE_EVENTS_CHANNEL}`);
    }
    for (const count of writers) {
      const pool = new Pool({ connectionString: url, max: count });
      const saver = new PostgresSaver(pool);
      await saver.setup();
      const setTriggers = async (enabled: boolean) => {
        const verb = enabled ? 'ENABLE' : 'DISABLE';
        await pool.query(`ALTER TABLE checkpoints ${verb} TRIGGER checkpoints_live`);
        await pool.query(`ALTER TABLE checkpoint_writes ${verb} TRIGGER checkpoint_writes_live`);
      };
      // Warm-up, then A B A B.
      await Promise.all(Array.from({ length: count }, () => writeUntil(saver, performance.now() + 1_000)));
      const results: SegmentResult[] = [];
      for (const triggers of [true, false, true, false]) {
        await setTriggers(triggers);
        const started = performance.now();
        const until = started + seconds * 1000;
        const written = await Promise.all(Array.from({ length: count }, () => writeUntil(saver, until)));
        results.push({ triggers, checkpoints: written.reduce((a, b) => a + b, 0), seconds: (performance.now() - started) / 1000 });
      }
      await setTriggers(true);
      await pool.end();
      const rate = (on: boolean) => {
        const chosen = results.filter((result) => result.triggers === on);
        return chosen.reduce((sum, result) => sum + result.checkpoints, 0) / chosen.reduce((sum, result) => sum + result.seconds, 0);
      };
      const withTriggers = rate(true);
      const without = rate(false);
      log(
        `  ${count} writer${count === 1 ? '' : 's'}: ${withTriggers.toFixed(0)} checkpoints/s with the triggers, ${without.toFixed(0)} without ` +
          `(${(withTriggers / without).toFixed(3)}x; each checkpoint = put + putWrites of 2 rows)`,
      );
    }
    if (listener) log(`  notifications received by the listener: ${notifications}`);
  } finally {
    await listener?.end().catch(() => undefined);
    await cleanup();
  }
}
