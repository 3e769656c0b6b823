import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PGlite, type Extension } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { LIVE_EVENTS_CHANNEL, notificationHub, type NotificationSource } from './notifications';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Directory holding the data files (created if missing); undefined keeps the database in memory. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Path of a data directory dump (`PGlite.dumpDataDir('none')`) to start from instead of initdb. */
  loadDataDir?: string;
  /**
   * Run PGlite in a child Node process. Undefined runs it in this process, or in a child when this
   * host cannot load it (Jest's CommonJS sandbox rejects PGlite's dynamic imports).
   */
  childProcess?: boolean;
}

/** A running embedded PostgreSQL (PGlite) reachable over TCP by ordinary PostgreSQL clients. */
export interface EmbeddedPostgres {
  /** `postgres://` URL of the server; clients must keep to one connection (PGlite is a single session). */
  readonly connectionString: string;
  /** The PGlite instance when it runs in this process (for dumps and direct queries), else undefined. */
  readonly db: PGlite | undefined;
  /**
   * The notifications of LIVE_EVENTS_CHANNEL, whichever client's statement committed them. PGlite is one backend
   * session that its owner LISTENs in before serving; its socket server streams each response raw to the client that
   * sent the statement, so a notification arrives only in the writer's stream. The owner reads it there (see
   * NOTIFICATION_TEE) and hands it on: in this process, or from the child as a line on its stdout.
   */
  readonly liveEvents: NotificationSource;
  /** Closes the socket server and then PGlite; calling it again does nothing. */
  stop(): Promise<void>;
}

/**
 * Makes a PGlite instance report the NotificationResponse messages ('A') of the raw protocol stream its socket server
 * sends to clients, to `emit(channel, payload)`; the stream itself is passed on unchanged. Source text, because the
 * child process (below) runs it too; it must stay self-contained plain JavaScript.
 */
const NOTIFICATION_TEE = `(db, emit) => {
  const raw = db.execProtocolRawStream.bind(db);
  db.execProtocolRawStream = (message, options) => {
    let carry = null;
    return raw(message, {
      ...options,
      onRawData: (chunk) => {
        try {
          let data = carry ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          let offset = 0;
          while (offset + 5 <= data.length) {
            const length = data.readInt32BE(offset + 1);
            if (offset + 1 + length > data.length) break;
            if (data[offset] === 0x41) {
              const channelEnd = data.indexOf(0, offset + 9);
              const payloadEnd = data.indexOf(0, channelEnd + 1);
              emit(data.toString('utf8', offset + 9, channelEnd), data.toString('utf8', channelEnd + 1, payloadEnd));
            }
            offset += 1 + length;
          }
          carry = offset < data.length ? Buffer.from(data.subarray(offset)) : null;
        } catch (error) {
          carry = null;
        }
        return options.onRawData(chunk);
      },
    });
  };
}`;

/**
 * Keeps each client's extended-protocol batch (Parse, Bind, Describe, Execute, Close, Flush … up to its Sync) together on
 * PGlite's one session. pglite-socket's queue runs one protocol message at a time from whichever client is first, and
 * only keeps a client's messages together while a transaction is open; two clients whose batches interleave outside a
 * transaction replace each other's unnamed statement ("unnamed prepared statement does not exist"). That happened as
 * soon as the server read a thread while LangGraph wrote it (the live sync of agent threads, decision 0015). The queue
 * is shown a session "in a transaction" while the batch is open, which makes it wait for that client's next message;
 * a client that disconnects mid-batch is rolled back and released by the queue as for a transaction. Source text, as
 * NOTIFICATION_TEE.
 */
const BATCH_TOGETHER = `(server) => {
  const queue = server.queryQueue;
  const db = queue.db;
  let open = false;
  queue.db = {
    isInTransaction: () => open || db.isInTransaction(),
    runExclusive: (work) => db.runExclusive(work),
    exec: (sql) => ((open = false), db.exec(sql)),
    execProtocolRawStream: (message, options) => {
      const type = message[0];
      if (type === 0x53 || type === 0x51 || type === 0x58) open = false;
      else if (type === 0x50 || type === 0x42 || type === 0x44 || type === 0x45 || type === 0x43 || type === 0x48) open = true;
      return db.execProtocolRawStream(message, options);
    },
  };
}`;

// Reconnects (a pool replacing a broken client, a second short-lived client) must not be refused,
// although clients are expected to use one connection at a time.
const MAX_CONNECTIONS = 8;
const HOST = '127.0.0.1';

let dynamicImportProbe: Promise<boolean> | undefined;

/** Starts PGlite (in memory or in `dataDir`) and serves it on 127.0.0.1 via the PostgreSQL wire protocol. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Expected port to be an integer between 0 and 65535, received ${String(port)}`);
  }
  let dataDir: string | undefined;
  if (options.dataDir !== undefined) {
    dataDir = path.resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
  }
  const settings: ServerSettings = {
    port,
    maxConnections: MAX_CONNECTIONS,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(options.loadDataDir === undefined ? {} : { loadDataDir: path.resolve(options.loadDataDir) }),
  };

  const inChild = options.childProcess ?? !(await canImportDynamically());
  return inChild ? startInChild(settings) : startInProcess(settings);
}

interface ServerSettings {
  port: number;
  maxConnections: number;
  dataDir?: string;
  loadDataDir?: string;
}

function connectionString(port: number): string {
  return `postgres://postgres:postgres@${HOST}:${port}/postgres?sslmode=disable`;
}

// PGlite loads Node built-ins with import(). Jest's CommonJS sandbox rejects every import() (code
// ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG) and a failed PGlite start leaves unhandled rejections
// behind, so the capability is probed with a harmless import first.
function canImportDynamically(): Promise<boolean> {
  dynamicImportProbe ??= (new Function('return import("node:path")') as () => Promise<unknown>)()
    .then(() => true)
    .catch(() => false);
  return dynamicImportProbe;
}

/**
 * The PostgreSQL extensions (contrib modules) the migrations create, as PGlite must be given them: its build ships
 * them as bundles loaded at start-up, not as files of its data directory. `btree_gin` lets the messages' full-text
 * index hold the tenant (docs/decisions/0016). Resolved by path: the package exports them as `contrib/*`, which
 * TypeScript's node10 resolution does not read.
 */
const PGLITE_EXTENSIONS = { btree_gin: 'contrib/btree_gin.cjs' } as const;

/** The modules of PGLITE_EXTENSIONS, by extension name. */
function pgliteExtensionPaths(): Record<string, string> {
  const dist = path.dirname(require.resolve('@electric-sql/pglite'));
  return Object.fromEntries(Object.entries(PGLITE_EXTENSIONS).map(([name, file]) => [name, path.join(dist, file)]));
}

/** PGlite's extension objects of PGLITE_EXTENSIONS. */
function pgliteExtensions(): Record<string, Extension> {
  return Object.fromEntries(
    Object.entries(pgliteExtensionPaths()).map(([name, file]) => [name, (require(file) as Record<string, Extension>)[name]!]),
  );
}

async function startInProcess(settings: ServerSettings): Promise<EmbeddedPostgres> {
  const loadDataDir = settings.loadDataDir === undefined ? undefined : new Blob([await readFile(settings.loadDataDir)]);
  const db = await PGlite.create({
    extensions: pgliteExtensions(),
    ...(settings.dataDir === undefined ? {} : { dataDir: settings.dataDir }),
    ...(loadDataDir === undefined ? {} : { loadDataDir }),
  });
  const liveEvents = notificationHub();
  // Before serving: a LISTEN run later could land inside a client's open transaction (one session) and be rolled back.
  await db.exec(`LISTEN ${LIVE_EVENTS_CHANNEL}`);
  (new Function(`return ${NOTIFICATION_TEE}`)() as (db: PGlite, emit: (channel: string, payload: string) => void) => void)(
    db,
    (channel, payload) => {
      if (channel === LIVE_EVENTS_CHANNEL) liveEvents.deliver(payload);
    },
  );
  const server = new PGLiteSocketServer({
    db,
    host: HOST,
    port: settings.port,
    maxConnections: settings.maxConnections,
  });
  (new Function(`return ${BATCH_TOGETHER}`)() as (server: PGLiteSocketServer) => void)(server);
  try {
    await server.start();
  } catch (error) {
    await db.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Could not serve embedded PostgreSQL on ${HOST}:${settings.port}: ${reason}`, {
      cause: error,
    });
  }
  // getServerConn() reports the port actually bound, which matters when port 0 was asked for.
  const address = server.getServerConn();
  const boundPort = Number(address.slice(address.lastIndexOf(':') + 1));

  let stopping: Promise<void> | undefined;
  return {
    connectionString: connectionString(boundPort),
    db,
    liveEvents,
    stop() {
      stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          if (!db.closed) await db.close();
        }
      })();
      return stopping;
    },
  };
}

// The child's whole program: the same start-up as startInProcess, the bound port reported as one
// JSON line on stdout, and a clean shutdown when stdin closes (including when the parent dies).
const CHILD_PROGRAM = `
const [pglitePath, socketPath, settingsJson, extensionsJson] = process.argv.slice(1);
const { PGlite } = require(pglitePath);
const extensions = Object.fromEntries(Object.entries(JSON.parse(extensionsJson)).map(([name, file]) => [name, require(file)[name]]));
const { PGLiteSocketServer } = require(socketPath);
const { readFileSync } = require('node:fs');
(async () => {
  const s = JSON.parse(settingsJson);
  const db = await PGlite.create({
    extensions,
    ...(s.dataDir === undefined ? {} : { dataDir: s.dataDir }),
    ...(s.loadDataDir === undefined ? {} : { loadDataDir: new Blob([readFileSync(s.loadDataDir)]) }),
  });
  await db.exec('LISTEN ${LIVE_EVENTS_CHANNEL}');
  (${NOTIFICATION_TEE})(db, (channel, payload) => {
    if (channel === '${LIVE_EVENTS_CHANNEL}') process.stdout.write(JSON.stringify({ notification: payload }) + '\\n');
  });
  const server = new PGLiteSocketServer({ db, host: '${HOST}', port: s.port, maxConnections: s.maxConnections });
  (${BATCH_TOGETHER})(server);
  await server.start();
  const address = server.getServerConn();
  process.stdout.write(JSON.stringify({ port: Number(address.slice(address.lastIndexOf(':') + 1)) }) + '\\n');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try { await server.stop(); } finally { await db.close(); }
    process.exit(0);
  };
  process.stdin.on('close', stop);
  process.stdin.on('end', stop);
  process.on('SIGTERM', stop);
  process.stdin.resume();
})().catch((error) => {
  process.stderr.write(String((error && error.message) || error) + '\\n');
  process.exit(1);
});
`;

const CHILD_STOP_TIMEOUT_MS = 10_000;

async function startInChild(settings: ServerSettings): Promise<EmbeddedPostgres> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      CHILD_PROGRAM,
      require.resolve('@electric-sql/pglite'),
      require.resolve('@electric-sql/pglite-socket'),
      JSON.stringify(settings),
      JSON.stringify(pgliteExtensionPaths()),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = once(child, 'exit');

  const lines = createInterface({ input: child.stdout });
  const exitedEarly = exited.then(([code]) => {
    throw new Error(
      `Expected the embedded PostgreSQL child process to report its port, but it exited with code ${String(code)}: ${stderr.join('').trim() || 'no output'}`,
    );
  });
  // Only observed until the port arrives; the normal exit at stop() must not become an unhandled rejection.
  exitedEarly.catch(() => undefined);
  const firstLine = await Promise.race([once(lines, 'line').then(([line]) => line as string), exitedEarly]);
  const { port } = JSON.parse(firstLine) as { port: number };
  // Every later line is a notification the child's PGlite committed.
  const liveEvents = notificationHub();
  lines.on('line', (line) => {
    // The last line may be cut short (or empty) when the child is stopped mid-write; it carries nothing to deliver.
    let notification: string | undefined;
    try {
      ({ notification } = JSON.parse(line) as { notification?: string });
    } catch {
      return;
    }
    if (notification !== undefined) liveEvents.deliver(notification);
  });

  let stopping: Promise<void> | undefined;
  return {
    connectionString: connectionString(port),
    db: undefined,
    liveEvents,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_TIMEOUT_MS);
        child.stdin.end();
        await exited;
        clearTimeout(timer);
        lines.close();
      })();
      return stopping;
    },
  };
}
