// A throwaway PostgreSQL primary with one streaming replica, made with PostgreSQL's own tools (initdb, pg_ctl,
// pg_basebackup -R) on free ports under a temporary directory, for the read-replica tests, the benchmark's replica
// scenario and developers (`npm run replica:up`). It never touches another cluster (the shared one on :5432 included):
// both servers listen on 127.0.0.1 at ports found free, with their sockets inside the temporary directory.
//
// initdb refuses to run as root, so as root the tools run as the `postgres` OS user (runuser), on a directory that
// user owns. Everything is asynchronous: a test's server keeps serving while the tools run.
import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const execFile = promisify(execFileCallback);

/** The OS user that runs the PostgreSQL tools when this process is root. */
const POSTGRES_USER = 'postgres';
/** The database convoql's tables live in on the throwaway primary. */
export const REPLICA_CLUSTER_DATABASE = 'convoql';

/** A running primary and streaming replica; {@link ReplicaCluster.close} stops both and removes their files. */
export interface ReplicaCluster {
  /** The temporary directory holding both data directories, their sockets and logs. */
  readonly dir: string;
  /** postgres://postgres@127.0.0.1:<port>/convoql on the primary. */
  readonly primaryUrl: string;
  /** The same database on the streaming replica. */
  readonly replicaUrl: string;
  /** `database` on the primary (a database created there shows up on the replica). */
  primaryUrlOf(database: string): string;
  /** `database` on the replica. */
  replicaUrlOf(database: string): string;
  /** Stops the replica at once (`pg_ctl stop -m immediate`: connections break as in a crash). */
  stopReplica(): Promise<void>;
  /** Starts the stopped replica again; it resumes streaming from the primary. */
  startReplica(): Promise<void>;
  /** Pauses WAL replay on the replica (`pg_wal_replay_pause()`): it keeps answering, with data as of now. */
  pauseReplay(): Promise<void>;
  /** Resumes WAL replay on the replica. */
  resumeReplay(): Promise<void>;
  /** Waits until the replica has replayed everything the primary has written so far. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops both servers and removes the directory; idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startReplicaCluster}. */
export interface ReplicaClusterOptions {
  /** Extra `-c name=value` settings of both servers (e.g. `{ max_connections: '100' }`). */
  settings?: Record<string, string>;
  /** Keep fsync on (the benchmark measures real writes); tests turn it off for speed. Default false. */
  durable?: boolean;
}

/** Thrown when PostgreSQL's server tools are missing; the message says what to install. */
export class PostgresToolsMissingError extends Error {
  override name = 'PostgresToolsMissingError';
}

/**
 * The directory holding initdb, pg_ctl and pg_basebackup: PG_BINDIR, else the newest /usr/lib/postgresql/<n>/bin
 * (Debian's layout), else the one `pg_config --bindir` names. Throws {@link PostgresToolsMissingError} without them.
 */
export function postgresBinDir(): string {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => path.join(debian, version, 'bin')));
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // No pg_config on PATH.
  }
  const found = candidates.find((dir) => ['initdb', 'pg_ctl', 'pg_basebackup'].every((tool) => existsSync(path.join(dir, tool))));
  if (!found) {
    throw new PostgresToolsMissingError(
      'PostgreSQL server tools (initdb, pg_ctl, pg_basebackup) not found: install them (Debian: apt-get install postgresql) or set PG_BINDIR',
    );
  }
  return found;
}

/** Creates a primary and a streaming replica with a migrated-or-empty database `convoql`; see the module comment. */
export async function startReplicaCluster(options: ReplicaClusterOptions = {}): Promise<ReplicaCluster> {
  const bin = postgresBinDir();
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'convoql-replicas-'));
  if (asRoot) {
    const { stdout } = await execFile('id', ['-u', POSTGRES_USER]);
    const { stdout: gid } = await execFile('id', ['-g', POSTGRES_USER]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  /** Runs a PostgreSQL tool, as the postgres user when this process is root. */
  const run = async (tool: string, args: string[]) => {
    const file = path.join(bin, tool);
    const [command, commandArgs] = asRoot ? ['runuser', ['-u', POSTGRES_USER, '--', file, ...args]] : [file, args];
    try {
      return await execFile(command, commandArgs, { cwd: dir, timeout: 120_000 });
    } catch (error) {
      const { stderr, message } = error as { stderr?: string; message: string };
      throw new Error(`${tool} failed: ${(stderr || message).trim().split('\n').slice(-3).join(' / ')}`);
    }
  };
  const primaryDir = path.join(dir, 'primary');
  const replicaDir = path.join(dir, 'replica');
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    max_connections: '60',
    shared_buffers: '32MB',
    ...(options.durable ? {} : { fsync: 'off', full_page_writes: 'off' }),
    ...options.settings,
  };
  const serverOptions = (port: number) =>
    [`-p ${port}`, ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`)].join(' ');
  const start = (dataDir: string, port: number, log: string) =>
    run('pg_ctl', ['-D', dataDir, '-o', serverOptions(port), '-l', path.join(dir, log), '-w', '-t', '60', 'start']);
  /** Starts a new server on a port free a moment ago; another process may take it first, so up to 5 ports are tried. */
  const startOnFreePort = async (dataDir: string, log: string): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      const [port] = await freePorts(1);
      try {
        await start(dataDir, port!, log);
        return port!;
      } catch (error) {
        const taken = /already in use/.test(await readFile(path.join(dir, log), 'utf8').catch(() => ''));
        if (!taken || attempt >= 5) throw error;
        await writeFile(path.join(dir, log), '');
      }
    }
  };
  const stop = (dataDir: string, mode: 'fast' | 'immediate') =>
    run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']).catch(() => undefined);

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await stop(replicaDir, 'immediate');
      await stop(primaryDir, 'immediate');
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    await run('initdb', ['-D', primaryDir, '-A', 'trust', '-U', POSTGRES_USER, '--no-sync', '-E', 'UTF8', '--locale=C']);
    const primaryPort = await startOnFreePort(primaryDir, 'primary.log');
    const primaryUrlOf = (database: string) => `postgres://${POSTGRES_USER}@127.0.0.1:${primaryPort}/${database}`;
    await withClient(primaryUrlOf('postgres'), (client) => client.query(`CREATE DATABASE ${REPLICA_CLUSTER_DATABASE}`));
    await run('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      POSTGRES_USER,
      '-D',
      replicaDir,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    const replicaPort = await startOnFreePort(replicaDir, 'replica.log');
    const replicaUrlOf = (database: string) => `postgres://${POSTGRES_USER}@127.0.0.1:${replicaPort}/${database}`;
    const cluster: ReplicaCluster = {
      dir,
      primaryUrl: primaryUrlOf(REPLICA_CLUSTER_DATABASE),
      replicaUrl: replicaUrlOf(REPLICA_CLUSTER_DATABASE),
      primaryUrlOf,
      replicaUrlOf,
      stopReplica: () => run('pg_ctl', ['-D', replicaDir, '-m', 'immediate', '-w', '-t', '60', 'stop']).then(() => undefined),
      startReplica: () => start(replicaDir, replicaPort, 'replica.log').then(() => undefined),
      pauseReplay: () =>
        withClient(replicaUrlOf('postgres'), (client) => client.query('SELECT pg_wal_replay_pause()')).then(() => undefined),
      resumeReplay: () =>
        withClient(replicaUrlOf('postgres'), (client) => client.query('SELECT pg_wal_replay_resume()')).then(() => undefined),
      waitForReplay: (timeoutMs = 30_000) => waitForReplay(primaryUrlOf('postgres'), replicaUrlOf('postgres'), timeoutMs),
      close,
    };
    await cluster.waitForReplay();
    return cluster;
  } catch (error) {
    const logs = await readLogTails(dir);
    await close();
    throw new Error(`${(error as Error).message}${logs ? `\n${logs}` : ''}`);
  }
}

/** Waits until the replica's replay position reaches the primary's current WAL position. */
async function waitForReplay(primaryUrl: string, replicaUrl: string, timeoutMs: number): Promise<void> {
  const target = await withClient(
    primaryUrl,
    async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn,
  );
  const deadline = Date.now() + timeoutMs;
  await withClient(replicaUrl, async (client) => {
    for (;;) {
      const { rows } = await client.query<{ caught_up: boolean }>(
        'SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS caught_up',
        [target],
      );
      if (rows[0]!.caught_up) return;
      if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${target} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}

/** Runs `work` with a connected client and closes it. */
export async function withClient<T>(connectionString: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `count` distinct TCP ports that were free on 127.0.0.1 a moment ago. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function readLogTails(dir: string): Promise<string> {
  const tails: string[] = [];
  for (const log of ['primary.log', 'replica.log']) {
    const text = await readFile(path.join(dir, log), 'utf8').catch(() => '');
    if (text) tails.push(`${log}: ${text.trim().split('\n').slice(-5).join(' / ')}`);
  }
  return tails.join('\n');
}

/**
 * `node dist/bench/replica-cluster.js up` (npm run replica:up): starts a cluster, migrates convoql's database on the
 * primary, prints the URLs and keeps both servers until Ctrl-C, then removes everything.
 */
async function main(): Promise<void> {
  const command = process.argv[2];
  if (command !== 'up') {
    console.error('Usage: npm run replica:up   (a throwaway primary + streaming replica until Ctrl-C)');
    process.exit(2);
  }
  const cluster = await startReplicaCluster({ durable: process.argv.includes('--durable') });
  const { applyMigrations } = await import('../src/db/migrations');
  await applyMigrations(cluster.primaryUrl, {});
  await cluster.waitForReplay();
  const env = `DATABASE_URL=${cluster.primaryUrl}\nDATABASE_READ_URL=${cluster.replicaUrl}\n`;
  await writeFile(path.join(cluster.dir, 'env'), env);
  console.log(`primary and streaming replica up in ${cluster.dir} (removed on Ctrl-C)\n${env}`);
  console.log(`e.g.  ${env.trim().split('\n').join(' ')} npm start`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cluster.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
