import { createMessages, createSession, sessionGid } from '../helpers/factories';
import { connectLive, type TestLiveClient } from '../helpers/live';
import { startTestServer, type TestServer } from '../helpers/server';

// Two servers on one database, each with its own pool and its own listening connection (as two replicas have): what
// one writes reaches the other's subscribers. They share this Jest process; nothing else is shared between them.
let writer: TestServer;
let reader: TestServer;
let client: TestLiveClient;

beforeAll(async () => {
  writer = await startTestServer();
  reader = await startTestServer({}, { database: writer.database });
});
afterAll(async () => {
  await client?.dispose();
  await reader?.close();
  await writer?.close();
});

it("delivers a change made through one server to the other server's subscribers, in order", async () => {
  const session = await createSession(writer.db, { externalId: 'replicated' });
  client = connectLive(reader.url, { authorization: `Bearer ${writer.apiKey}` });
  const messages = client.subscribe(`subscription ($id: ID!) { messageAdded(sessionId: $id) { content } }`, { id: sessionGid(session) });
  const sessions = client.subscribe(`subscription { sessionChanged { changes session { sessionId status } } }`);
  // The subscribe is not acknowledged by graphql-ws; write until the reader's subscription is registered.
  let first;
  for (let attempt = 0; attempt < 20 && !first; attempt++) {
    await createMessages(writer.db, session, [{ content: `warm-up ${attempt}` }]);
    first = await messages.next(500).catch(() => undefined);
  }
  expect(first).toBeDefined();
  messages.ignore((result) => JSON.stringify(result).includes('warm-up'));
  sessions.ignore((result) => !JSON.stringify(result).includes('STATUS_CHANGED'));

  await createMessages(writer.db, session, [{ content: 'one' }, { content: 'two' }]);
  const changed = await writer.graphql(
    `mutation ($id: ID!) { updateSessionStatus(input: { id: $id, status: CLOSED }) { userErrors { code } } }`,
    {
      id: sessionGid(session),
    },
  );
  expect(changed.data).toEqual({ updateSessionStatus: { userErrors: [] } });
  expect((await messages.next()).data).toEqual({ messageAdded: { content: 'one' } });
  expect((await messages.next()).data).toEqual({ messageAdded: { content: 'two' } });
  // The messages' events may carry the status change too, when they come in one delivery.
  expect((await sessions.next()).data).toMatchObject({ sessionChanged: { session: { sessionId: 'replicated', status: 'CLOSED' } } });
});

it('completes every subscription and closes its sockets as going away when a server stops', async () => {
  const session = await createSession(writer.db, { externalId: 'stopping' });
  const watcher = connectLive(reader.url, { authorization: `Bearer ${writer.apiKey}` });
  const subscription = watcher.subscribe(`subscription ($id: ID!) { messageAdded(sessionId: $id) { content } }`, {
    id: sessionGid(session),
  });
  let seen;
  for (let attempt = 0; attempt < 20 && !seen; attempt++) {
    await createMessages(writer.db, session, [{ content: `before stop ${attempt}` }]);
    seen = await subscription.next(500).catch(() => undefined);
  }
  expect(seen).toBeDefined();
  await reader.close();
  // The server sent `complete` for the subscription before closing the socket.
  await expect(subscription.done).resolves.toBeUndefined();
  expect(await watcher.closed).toEqual({ code: 1001, reason: 'The server is shutting down.' });
  await watcher.dispose();
});
