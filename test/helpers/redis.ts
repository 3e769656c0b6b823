import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import { ensureCliBuilt } from './cli';
import type { TestDatabase } from './database';

/** The Redis the tests share (development and CI machines run one here); never flushed, only our prefixed keys are deleted. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

/** Whether Redis answers PING, asked synchronously (in a child process) so that a test file can decide what to declare. */
export function redisAnswers(url = TEST_REDIS_URL): boolean {
  const script = `
    const { hostname, port } = new URL(process.argv[1]);
    const socket = require('node:net').connect(Number(port || 6379), hostname);
    socket.setTimeout(2000, () => process.exit(1));
    socket.on('error', () => process.exit(1));
    socket.on('connect', () => socket.write('PING\\r\\n'));
    socket.on('data', (data) => process.exit(String(data).startsWith('+PONG') ? 0 : 1));`;
  return spawnSync(process.execPath, ['-e', script, url], { timeout: 5_000 }).status === 0;
}

/**
 * `describe` when Redis answers; outside CI a skipped `describe` saying why, and on CI (CI=true, where Redis runs) a
 * failure: a CI run that silently skipped the shared-state tests would prove nothing.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisAnswers()) return describe(name, body);
  if (process.env.CI === 'true') {
    throw new Error(`CI=true and no Redis answers at ${TEST_REDIS_URL}; the shared-state tests need one (see .ci/run).`);
  }
  console.warn(`Skipping "${name}": no Redis answers at ${TEST_REDIS_URL} (start one, or set TEST_REDIS_URL).`);
  describe.skip(name, body);
}

/** A key prefix of this test's own, so tests never see each other's keys and clean up only theirs. */
export function testKeyPrefix(): string {
  return `convoql-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A plain client of the test Redis, for looking at and deleting the keys a test made. */
export function redisClient(): Redis {
  return new Redis(TEST_REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** The keys under `prefix`. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under `prefix` (and only those). */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

/** A TCP proxy to the test Redis that a test can cut (as a Redis going down) and restore on the same port. */
export interface RedisProxy {
  readonly url: string;
  /** Stops listening and cuts every connection through it. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** Keeps every connection open but passes nothing on, as a Redis that hangs (or a network that drops packets). */
  stall(): void;
  close(): Promise<void>;
}

export async function startRedisProxy(target = TEST_REDIS_URL): Promise<RedisProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  let stalled = false;
  const listen = async () => {
    const next = createServer((client) => {
      const upstream = connect(Number(port || 6379), hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', (data: Buffer) => stalled || upstream.write(data));
      upstream.on('data', (data: Buffer) => stalled || client.write(data));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(listenPort, '127.0.0.1', resolve);
    });
    listenPort = (next.address() as { port: number }).port;
    server = next;
  };
  const cut = async () => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return { url: `redis://127.0.0.1:${listenPort}`, cut, restore: listen, stall: () => (stalled = true), close: cut };
}

/** A convoql server run as its own process (`node dist/src/main.js`), as a second replica is. */
export interface ServerProcess {
  readonly url: string;
  /** Its log, one parsed JSON line each. */
  readonly logLines: Record<string, unknown>[];
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '../..');

/** Starts `node dist/src/main.js` on the test database with these variables; resolves once it serves. */
export async function startServerProcess(database: TestDatabase, environment: Record<string, string>): Promise<ServerProcess> {
  ensureCliBuilt();
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    SESSION_EXPIRY_INTERVAL_SECONDS: '0',
    CONVERSATION_SYNC_INTERVAL_SECONDS: '0',
    // PGlite serves one session: one connection, no named prepared statements.
    ...(database.external ? {} : { DB_POOL_MAX: '1', DB_PREPARED_STATEMENTS: 'false' }),
    ...environment,
  };
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          logLines.push(parsed);
          if (parsed.msg === 'convoql is serving GraphQL') resolve(parsed.url as string);
        } catch {
          // Not a log line.
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code) => reject(new Error(`the server process exited with ${code} before serving: ${stderr.trim()}`)));
  });
  return {
    url,
    logLines,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
