// Read replicas (DATABASE_READ_URL, docs/decisions/0012) against a real streaming replica: a throwaway primary and
// replica made with initdb and pg_basebackup -R (test/helpers/replica-cluster.ts). Replay paused on the replica makes
// where each read went visible: what the primary has and the replica lacks.
import { Writable } from 'node:stream';
import { conversationSyncConfigOf, syncConversations } from '../../src/conversations/conversation.sync';
import { writeLangGraphFixtures } from '../fixtures/langgraph/langgraph.fixtures';
import { ensureCliBuilt, runCli } from '../helpers/cli';
import { replicaToolsAvailable, startMigratedReplicaCluster, type ReplicaCluster } from '../helpers/replica-cluster';
import type { TestDatabase } from '../helpers/database';
import { startTestServer, type TestServer } from '../helpers/server';
import { withClient } from '../../bench/replica-cluster';

const tools = replicaToolsAvailable();
if (!tools.available) console.warn(`read-replica tests skipped: ${tools.reason}`);
const describeWithReplicas = tools.available ? describe : describe.skip;

const UPSERT = /* GraphQL */ `
  mutation Upsert($input: UpsertSessionInput!) {
    upsertSession(input: $input) {
      created
      session {
        sessionId
      }
      userErrors {
        code
      }
    }
  }
`;
const APPEND = /* GraphQL */ `
  mutation Append($input: AppendMessagesInput!) {
    appendMessages(input: $input) {
      appendedCount
      session {
        sessionId
        messageCount
        messages(first: 10) {
          nodes {
            content
          }
        }
      }
      userErrors {
        code
      }
    }
  }
`;
const READS = /* GraphQL */ `
  query Reads($sessionId: String!, $word: String!) {
    sessions(first: 100) {
      totalCount
      nodes {
        sessionId
      }
    }
    sessionByExternalId(sessionId: $sessionId) {
      sessionId
      messageCount
    }
    searchMessages(query: $word, first: 5) {
      nodes {
        message {
          content
        }
      }
    }
    usage(groupBy: CHANNEL) {
      buckets {
        key
        sessions
      }
    }
  }
`;

interface ReadsData {
  sessions: { totalCount: number; nodes: { sessionId: string }[] };
  sessionByExternalId: { sessionId: string; messageCount: number } | null;
  searchMessages: { nodes: { message: { content: string } }[] };
  usage: { buckets: { key: string; sessions: number }[] };
}

/** The application_name of the first server's replica pool. */
const READ_APPLICATION = 'convoql-test-reads';

const PRIMARY = { headers: { 'x-convoql-consistency': 'primary' } };

/** Log lines of the server, parsed. */
const logLines: { level: number; msg: string; replica?: string; state?: string }[] = [];
const logDestination = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
    done();
  },
});
interface Readiness {
  status: string;
  degraded?: { replicas?: string; redis?: string };
  replicas: { name: string; state: string; error?: string }[];
}

/** /readyz's answer once its status is `status` (checked every 100 ms, at most 10 s); it always answers 200 here. */
async function waitForReadyz(target: TestServer, status: string): Promise<Readiness> {
  let body: Readiness | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(target.url.replace(/\/graphql$/, '/readyz'));
    expect(response.status).toBe(200);
    body = (await response.json()) as Readiness;
    if (body.status === status) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/readyz did not say ${status} within 10 s; it said ${JSON.stringify(body)}`);
}

const stateChanges = () => logLines.filter((line) => line.replica !== undefined && line.state !== undefined);

let cluster: ReplicaCluster;
let server: TestServer;
let slowChecks: TestServer;
let primaryDatabase: TestDatabase;
let counter = 0;

describeWithReplicas('read replicas (a real streaming replica)', () => {
  beforeAll(async () => {
    const started = await startMigratedReplicaCluster();
    cluster = started.cluster;
    primaryDatabase = started.primary;
    server = await startTestServer(
      {
        DATABASE_READ_URL: `${cluster.replicaUrl}?application_name=${READ_APPLICATION}`,
        DATABASE_READ_POOL_MAX: '2',
        DATABASE_READ_CHECK_INTERVAL_MS: '200',
        DATABASE_READ_CHECK_TIMEOUT_MS: '500',
        USAGE_CACHE_SECONDS: '0',
        CONVERSATION_DEFAULT_TENANT: 'acme',
        LOG_LEVEL: 'info',
      },
      { database: started.primary, logDestination },
    );
    // Checks far apart: a replica that stops answering is found by the first query that loses its connection.
    slowChecks = await startTestServer(
      { DATABASE_READ_URL: cluster.replicaUrl, DATABASE_READ_CHECK_INTERVAL_MS: '60000', USAGE_CACHE_SECONDS: '0' },
      { database: started.primary },
    );
  });
  afterAll(async () => {
    await slowChecks?.close();
    await server?.close();
    await cluster?.close();
  });

  /** Writes a session with one message through the API; returns the mutations' payloads. */
  async function writeSession(word: string) {
    const sessionId = `replica-${++counter}`;
    const upsert = await server.graphql(UPSERT, { input: { sessionId, channel: `web-${counter}` } });
    const append = await server.graphql<{
      appendMessages: { appendedCount: number; session: { messageCount: number; messages: { nodes: { content: string }[] } } };
    }>(APPEND, { input: { sessionId, messages: [{ clientMessageId: 'm1', role: 'user', content: `hello ${word}` }] } });
    return { sessionId, upsert, append };
  }

  const reads = (sessionId: string, word: string, options = {}) => server.graphql<ReadsData>(READS, { sessionId, word }, options);

  test('/readyz lists the replica as up', async () => {
    const response = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; replicas: { name: string; state: string }[] };
    expect(body.status).toBe('ready');
    expect(body.replicas).toEqual([expect.objectContaining({ name: new URL(cluster.replicaUrl).host + '/convoql', state: 'up' })]);
    expect(JSON.stringify(body)).not.toContain('postgres@');
  });

  test('queries read from the replica, mutation payloads and the primary header from the primary', async () => {
    const before = await writeSession('before');
    await cluster.waitForReplay();
    await cluster.pauseReplay();
    try {
      const after = await writeSession('zebra');
      // The mutations' payloads see their own writes: they read from the primary.
      expect(after.upsert.errors).toBeUndefined();
      expect(after.append.errors).toBeUndefined();
      expect(after.append.data?.appendMessages).toMatchObject({
        appendedCount: 1,
        session: { messageCount: 1, messages: { nodes: [{ content: 'hello zebra' }] } },
      });

      // A query reads from the replica, whose replay is paused: the list, the lookup, search and usage lack the new session.
      const lagging = await reads(after.sessionId, 'zebra');
      expect(lagging.errors).toBeUndefined();
      const sessionIds = lagging.data!.sessions.nodes.map((node) => node.sessionId);
      expect(sessionIds).toContain(before.sessionId);
      expect(sessionIds).not.toContain(after.sessionId);
      expect(lagging.data!.sessionByExternalId).toBeNull();
      expect(lagging.data!.searchMessages.nodes).toEqual([]);
      expect(lagging.data!.usage.buckets.map((bucket) => bucket.key)).not.toContain(`web-${counter}`);

      // x-convoql-consistency: primary reads the same query from the primary, which has it.
      const fresh = await reads(after.sessionId, 'zebra', PRIMARY);
      expect(fresh.errors).toBeUndefined();
      expect(fresh.data!.sessions.nodes.map((node) => node.sessionId)).toContain(after.sessionId);
      expect(fresh.data!.sessions.totalCount).toBe(lagging.data!.sessions.totalCount + 1);
      expect(fresh.data!.sessionByExternalId).toEqual({ sessionId: after.sessionId, messageCount: 1 });
      expect(fresh.data!.searchMessages.nodes).toEqual([{ message: { content: 'hello zebra' } }]);
      expect(fresh.data!.usage.buckets).toContainEqual({ key: `web-${counter}`, sessions: 1 });

      // Any other value of the header is the default: the replica.
      const other = await reads(after.sessionId, 'zebra', { headers: { 'x-convoql-consistency': 'eventual' } });
      expect(other.data!.sessionByExternalId).toBeNull();
    } finally {
      await cluster.resumeReplay();
    }
    // Once replayed, the replica has it too.
    await cluster.waitForReplay();
    const caughtUp = await reads(`replica-${counter}`, 'zebra');
    expect(caughtUp.data!.sessionByExternalId).toEqual({ sessionId: `replica-${counter}`, messageCount: 1 });
  });

  test('usage read from a replica is computed per query, whatever USAGE_CACHE_SECONDS says (README, Usage)', async () => {
    const cached = await startTestServer(
      { DATABASE_READ_URL: cluster.replicaUrl, USAGE_CACHE_SECONDS: '60' },
      { database: primaryDatabase },
    );
    try {
      const channels = async (options = {}) => {
        const answer = await cached.graphql<ReadsData>(READS, { sessionId: 'none', word: 'none' }, options);
        expect(answer.errors).toBeUndefined();
        return answer.data!.usage.buckets.map((bucket) => bucket.key);
      };
      expect(await channels(PRIMARY)).not.toContain(`web-${counter + 1}`);
      // Read once from the replica before the write: were replica reads cached, the next one would return this.
      await channels();
      await writeSession('uncached');
      await cluster.waitForReplay();
      expect(await channels()).toContain(`web-${counter}`);
      // From the primary, the result computed before the write is reused.
      expect(await channels(PRIMARY)).not.toContain(`web-${counter}`);
    } finally {
      await cached.close();
    }
  });

  test('a replica stopped under load: no client sees an error, /readyz says degraded, one log line; started again, it is used again', async () => {
    const { sessionId } = await writeSession('load');
    await cluster.waitForReplay();
    let running = true;
    const answers: { errors?: unknown; data?: ReadsData | null }[] = [];
    const worker = async () => {
      while (running) answers.push(await reads(sessionId, 'load'));
    };
    const workers = [worker(), worker(), worker(), worker()];
    // Load on the replica first, then stop it in the middle of it.
    while (answers.length < 20) await new Promise((resolve) => setTimeout(resolve, 10));
    // Four clients at once, read through the replica pool of DATABASE_READ_POOL_MAX=2 connections, and one check connection.
    const connections = await withClient(cluster.replicaUrlOf('postgres'), async (client) => {
      const { rows } = await client.query<{ application_name: string; count: number }>(
        `SELECT application_name, count(*)::int AS count FROM pg_stat_activity WHERE application_name = ANY($1) GROUP BY 1`,
        [[READ_APPLICATION, 'convoql-replica-check']],
      );
      return Object.fromEntries(rows.map((row) => [row.application_name, row.count]));
    });
    expect(connections[READ_APPLICATION]).toBeGreaterThanOrEqual(1);
    expect(connections[READ_APPLICATION]).toBeLessThanOrEqual(2);
    // One check connection per server (this test file runs two).
    expect(connections['convoql-replica-check']).toBe(2);
    const stateChangesBefore = stateChanges().length;
    const onReplica = await slowChecks.graphql<ReadsData>(READS, { sessionId, word: 'load' });
    expect(onReplica.data!.sessionByExternalId?.sessionId).toBe(sessionId);
    await cluster.stopReplica();

    // A query that loses its replica runs again on the primary: the client gets its data, the replica is out at once.
    const retried = await slowChecks.graphql<ReadsData>(READS, { sessionId, word: 'load' });
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.sessionByExternalId?.sessionId).toBe(sessionId);
    const readiness = (await (await fetch(slowChecks.url.replace(/\/graphql$/, '/readyz'))).json()) as Readiness;
    expect(readiness).toMatchObject({ status: 'degraded', replicas: [{ state: 'down', error: expect.any(String) }] });
    const metrics = await (await fetch(slowChecks.metricsUrl)).text();
    expect(metrics).toMatch(/^convoql_replica_reads_total\{target="replica"\} 1$/m);
    expect(metrics).toMatch(/^convoql_replica_reads_total\{target="retried"\} 1$/m);
    expect(metrics).toMatch(/^convoql_read_replica_up\{replica="[^"]+"\} 0$/m);

    const stoppedAt = answers.length;
    const degraded = await waitForReadyz(server, 'degraded');
    // More load while it is down, all of it on the primary.
    while (answers.length < stoppedAt + 40) await new Promise((resolve) => setTimeout(resolve, 10));
    running = false;
    await Promise.all(workers);

    expect(degraded).toMatchObject({ status: 'degraded', degraded: { replicas: '1 of 1 read replica down; reads go to the primary' } });
    expect(degraded.replicas[0]!.state).toBe('down');
    expect(answers.filter((answer) => answer.errors !== undefined)).toEqual([]);
    expect(answers.every((answer) => answer.data?.sessionByExternalId?.sessionId === sessionId)).toBe(true);
    // The state change is logged once, not once per request or per broken connection.
    const down = stateChanges().slice(stateChangesBefore);
    expect(down).toEqual([
      expect.objectContaining({ state: 'down', level: 40, msg: expect.stringContaining('its reads go to the primary') }),
    ]);

    await cluster.startReplica();
    await waitForReadyz(server, 'ready');
    expect(stateChanges().slice(stateChangesBefore)).toEqual([
      expect.objectContaining({ state: 'down' }),
      expect.objectContaining({ state: 'up', level: 30, downForMs: expect.any(Number) }),
    ]);
    // Used again: with its replay paused, a new session is missing from what queries read.
    await cluster.waitForReplay();
    await cluster.pauseReplay();
    try {
      const after = await writeSession('again');
      expect((await reads(after.sessionId, 'again')).data!.sessionByExternalId).toBeNull();
      expect((await reads(after.sessionId, 'again', PRIMARY)).data!.sessionByExternalId).toEqual({
        sessionId: after.sessionId,
        messageCount: 1,
      });
    } finally {
      await cluster.resumeReplay();
    }
  });

  test('a replica that never answers: the server starts, reads from the primary, says degraded, never shows the password', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    // Port 1 on 127.0.0.1: nothing listens there, connections are refused at once.
    const unreachable = await startTestServer(
      { DATABASE_READ_URL: 'postgres://reader:hunter2@127.0.0.1:1/convoql', LOG_LEVEL: 'info' },
      { database: primaryDatabase, logDestination: destination },
    );
    try {
      const { sessionId } = await writeSession('unreachable');
      const answer = await unreachable.graphql<ReadsData>(READS, { sessionId, word: 'unreachable' });
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.sessionByExternalId).toEqual({ sessionId, messageCount: 1 });
      const readiness = await waitForReadyz(unreachable, 'degraded');
      expect(readiness.replicas).toEqual([
        expect.objectContaining({ name: '127.0.0.1:1/convoql', state: 'down', error: expect.any(String) }),
      ]);
      const metrics = await (await fetch(unreachable.metricsUrl)).text();
      expect(metrics).toMatch(/^convoql_replica_reads_total\{target="primary"\} 1$/m);
      const log = lines.join('');
      expect(log).toContain('read replica 127.0.0.1:1/convoql is down; its reads go to the primary');
      expect(JSON.stringify(readiness) + log).not.toContain('hunter2');
    } finally {
      await unreachable.close();
    }
  });

  test('a replay whose step index is stale on the replica is indexed on the primary and read from it', async () => {
    const { threads } = await writeLangGraphFixtures(cluster.primaryUrl, { only: ['toolCalls'] });
    const summary = await syncConversations(server.db, conversationSyncConfigOf(server.config));
    expect(summary).toMatchObject({ created: 1, failed: 0 });
    const REPLAY = /* GraphQL */ `
      query Replay($threadId: String!) {
        conversationByThreadId(threadId: $threadId) {
          replay(first: 50) {
            totalCount
            nodes {
              ordinal
              type
              content
            }
          }
        }
      }
    `;
    type ReplayData = { conversationByThreadId: { replay: { totalCount: number; nodes: { ordinal: number; type: string }[] } } | null };
    const variables = { threadId: threads.toolCalls };
    const expected = await server.graphql<ReplayData>(REPLAY, variables, PRIMARY);
    expect(expected.errors).toBeUndefined();
    expect(expected.data!.conversationByThreadId!.replay.nodes.length).toBeGreaterThan(3);
    // The sync has not indexed what LangGraph wrote since: here, the index is gone (on the primary, so on the replica).
    await withClient(cluster.primaryUrl, (client) =>
      client.query('DELETE FROM conversation_step_index WHERE thread_id = $1', [threads.toolCalls]),
    );
    await cluster.waitForReplay();
    const fromReplica = await server.graphql<ReplayData>(REPLAY, variables);
    expect(fromReplica.errors).toBeUndefined();
    expect(fromReplica.data!.conversationByThreadId!.replay.nodes).toEqual(expected.data!.conversationByThreadId!.replay.nodes);
    // Indexed on the primary, the index reaches the replica like any write.
    await cluster.waitForReplay();
    const indexed = await withClient(cluster.replicaUrl, async (client) => {
      const { rows } = await client.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM conversation_step_index WHERE thread_id = $1',
        [threads.toolCalls],
      );
      return rows[0]!.count;
    });
    expect(indexed).toBeGreaterThan(0);
    const again = await server.graphql<ReplayData>(REPLAY, variables);
    expect(again.data).toEqual(expected.data);
  });

  test('convoql export reads from the replica', async () => {
    ensureCliBuilt();
    await cluster.waitForReplay();
    await cluster.pauseReplay();
    try {
      const { sessionId } = await writeSession('export');
      const environment = { DATABASE_URL: cluster.primaryUrl, DATABASE_READ_URL: cluster.replicaUrl };
      const fromReplica = await runCli(['export', '--tenant', 'acme'], environment);
      expect(fromReplica.stderr).toMatch(/^Exported \d+ sessions/);
      expect(fromReplica.code).toBe(0);
      expect(fromReplica.stdout).not.toContain(`"${sessionId}"`);
      const fromPrimary = await runCli(['export', '--tenant', 'acme'], { DATABASE_URL: cluster.primaryUrl });
      expect(fromPrimary.code).toBe(0);
      expect(fromPrimary.stdout).toContain(`"${sessionId}"`);
    } finally {
      await cluster.resumeReplay();
    }
  });
});
