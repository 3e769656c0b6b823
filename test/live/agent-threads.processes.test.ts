import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { conversationSyncConfigOf, syncConversations } from '../../src/conversations/conversation.sync';
import { extendLangGraphFixture, writeLangGraphFixtures } from '../fixtures/langgraph/langgraph.fixtures';
import { ensureCliBuilt } from '../helpers/cli';
import { createConversations } from '../helpers/factories';
import { connectLive, type TestLiveClient } from '../helpers/live';
import { startTestServer, type TestServer } from '../helpers/server';

// A convoql server in a process of its own (`node dist/src/main.js`, as `npm start` runs it) serves replayTail and
// conversationChanged for LangGraph runs written by this process, on PostgreSQL: every process LISTENs on its own
// connection. On the embedded PGlite one process owns the database and receives every notification (decision 0009);
// a second process on it is not a replica, so this file runs on PostgreSQL only (TEST_DATABASE_URL), and the in-process
// two-server tests of agent-threads.test.ts cover PGlite.
const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

const ROOT = path.resolve(__dirname, '../..');
const REPLAY_TAIL = `subscription ($id: ID!, $after: String) { replayTail(conversationId: $id, after: $after) { cursor node { ordinal type } } }`;

onPostgres('two server processes on one PostgreSQL', () => {
  let writer: TestServer;
  let child: ChildProcess | undefined;
  let childUrl: string;
  let client: TestLiveClient | undefined;

  beforeAll(async () => {
    ensureCliBuilt();
    writer = await startTestServer({ CONVERSATION_DEFAULT_TENANT: 'acme' });
    const port = await freePort();
    child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: writer.database.url,
        PORT: String(port),
        LOG_LEVEL: 'silent',
        CONVERSATION_DEFAULT_TENANT: 'acme',
      },
      stdio: 'ignore',
    });
    childUrl = `http://127.0.0.1:${port}/graphql`;
    for (let attempt = 0; attempt < 200; attempt++) {
      if (
        await fetch(`http://127.0.0.1:${port}/healthz`)
          .then((response) => response.ok)
          .catch(() => false)
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the server process did not start within 20 s');
  });
  afterAll(async () => {
    await client?.dispose();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await writer?.close();
  });

  it("delivers the steps LangGraph writes, and the thread's change, to subscribers of the other process", async () => {
    const url = writer.database.url;
    const { threads } = await writeLangGraphFixtures(url, { only: ['longThread'] });
    expect(await syncConversations(writer.db, conversationSyncConfigOf(writer.config))).toMatchObject({ failed: 0 });
    const listed = await writer.graphql<{ conversations: { nodes: { id: string }[] } }>('{ conversations(first: 1) { nodes { id } } }');
    const id = listed.data!.conversations.nodes[0]!.id;
    type Edges = { cursor: string; node: { ordinal: number; type: string } }[];
    const replay = async (range: string, after?: string) =>
      (
        await writer.graphql<{ conversation: { replay: { edges: Edges } } }>(
          `query ($id: ID!${after === undefined ? '' : ', $after: String'}) { conversation(id: $id) { replay(${range}) { edges { cursor node { ordinal type } } } } }`,
          { id, after },
        )
      ).data!.conversation.replay.edges;
    const [last] = await replay('last: 1');
    client = connectLive(childUrl, { authorization: `Bearer ${writer.apiKey}` });
    const tail = client.subscribe(REPLAY_TAIL, { id, after: last!.cursor });
    const changed = client.subscribe(`subscription { conversationChanged { changes conversation { id threadId } } }`);
    // A subscribe is not acknowledged: rows are created until the other process's subscription sees one.
    for (let attempt = 0; attempt < 20; attempt++) {
      await createConversations(writer.db, 1, () => ({ threadId: `warm-up-${attempt}-${Date.now()}` }));
      if (await changed.next(500).catch(() => undefined)) break;
    }
    changed.ignore((result) => JSON.stringify(result).includes('warm-up-'));
    await extendLangGraphFixture(url, 'longThread', threads.longThread, 1);
    const added = await replay('first: 100, after: $after', last!.cursor);
    expect(added.length).toBeGreaterThan(0);
    const received = [];
    for (let i = 0; i < added.length; i++) received.push((await tail.next(30_000)).data!.replayTail);
    expect(received).toEqual(added);
    await expect(tail.next(1_000)).rejects.toThrow(/no subscription event/);
    // The other process synced the thread as LangGraph wrote it (the sync job alone would take 30 s).
    expect((await changed.next(30_000)).data).toMatchObject({ conversationChanged: { changes: ['ADVANCED'], conversation: { id } } });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
