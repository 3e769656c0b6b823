import { MessagesAnnotation, StateGraph, START, END } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { Pool } from 'pg';
import { conversationSyncConfigOf, syncConversations, type ConversationSyncConfig } from '../../src/conversations/conversation.sync';
import { toGlobalId } from '../../src/graphql/global-id';
import {
  LONG_THREAD_TURNS,
  extendLangGraphFixture,
  writeLangGraphFixtures,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { ScriptedChatModel } from '../fixtures/langgraph/scripted-chat-model';
import { startTestServer, type TestServer } from '../helpers/server';

const FIXTURES: FixtureName[] = ['toolCalls', 'reasoning', 'longThread'];
const pglite = !process.env.TEST_DATABASE_URL;
const saverOptions = { singleConnection: pglite };

let server: TestServer;
let url: string;
let globexKey: string;
let threads: Record<FixtureName, string>;
let config: ConversationSyncConfig;

/** A saver that copies the run's `config.metadata` into checkpoint metadata, as LangGraph Python does. */
class MetadataCopyingSaver extends PostgresSaver {
  override put(...[runConfig, checkpoint, metadata, versions]: Parameters<PostgresSaver['put']>): ReturnType<PostgresSaver['put']> {
    // CheckpointMetadata declares LangGraph's own keys only; the saver stores any extra key as it is.
    return super.put(runConfig, checkpoint, { ...runConfig.metadata, ...metadata } as typeof metadata, versions);
  }
}

/** Runs one turn of a chat graph with real LangGraph on `threadId`, with this run metadata. */
async function runTurn(threadId: string, text: string, metadata: Record<string, unknown>): Promise<void> {
  const saver = new MetadataCopyingSaver(new Pool({ connectionString: url, max: 1 }));
  try {
    const model = new ScriptedChatModel([
      {
        content: `Noted: ${text}`,
        usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
        response_metadata: { model_name: 'fake-metadata-model' },
      },
    ]);
    const graph = new StateGraph(MessagesAnnotation)
      .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile({ checkpointer: saver });
    await graph.invoke(
      { messages: [{ role: 'user', content: text }] },
      { configurable: { thread_id: threadId }, metadata: { ...metadata, run_id: `run-${text.length}` } },
    );
  } finally {
    await saver.end();
  }
}

interface Found {
  threadId: string;
  metadata: Record<string, unknown>;
}

async function search(filter: Record<string, unknown>, apiKey?: string): Promise<Found[]> {
  const response = await server.graphql<{ conversations: { nodes: Found[]; totalCount: number } }>(
    `query($filter: ConversationFilter) { conversations(first: 100, filter: $filter) { nodes { threadId metadata } totalCount } }`,
    { filter },
    apiKey ? { apiKey } : {},
  );
  expect(response.errors).toBeUndefined();
  expect(response.data!.conversations.totalCount).toBe(response.data!.conversations.nodes.length);
  return response.data!.conversations.nodes;
}

const threadIdsOf = async (filter: Record<string, unknown>, apiKey?: string) =>
  (await search(filter, apiKey)).map((node) => node.threadId).sort();

beforeAll(async () => {
  server = await startTestServer();
  url = server.config.database.url as string;
  globexKey = await server.createKey('globex');
  config = { ...conversationSyncConfigOf(server.config), defaultTenant: 'acme' };
  ({ threads } = await writeLangGraphFixtures(url, { only: FIXTURES, ...saverOptions }));
  await runTurn('meta-acme', 'Please escalate the invoice dispute.', { tenant_id: 'acme', plan: 'pro', customer: { region: 'eu' } });
  await runTurn('meta-globex', 'Marmalade shipment is late.', { tenant_id: 'globex', plan: 'enterprise' });
  await syncConversations(server.db, config);
});
afterAll(() => server?.close());

test("stores each thread's run metadata without LangGraph's bookkeeping keys, and filters by it", async () => {
  const [found] = await search({ metadata: { customer: { region: 'eu' } } });
  expect(found).toEqual({ threadId: 'meta-acme', metadata: { tenant_id: 'acme', plan: 'pro', customer: { region: 'eu' } } });
  // LangChain's own `ls_integration` is left out too; threads run without metadata keep none of LangGraph's keys.
  expect((await search({ text: 'Paris' }))[0]!.metadata).toEqual({});
  // A later run adds and replaces keys.
  await runTurn('meta-acme', 'Any news on the dispute?', { tenant_id: 'acme', plan: 'enterprise', channel: 'email' });
  await syncConversations(server.db, config);
  expect(await search({ metadata: { plan: 'enterprise' } })).toEqual([
    { threadId: 'meta-acme', metadata: { tenant_id: 'acme', plan: 'enterprise', customer: { region: 'eu' }, channel: 'email' } },
  ]);
});

test('stores the text of user and assistant messages, the models and the tools, and filters by them', async () => {
  expect(await threadIdsOf({ text: 'sunny paris' })).toEqual([threads.toolCalls]);
  expect(await threadIdsOf({ text: 'escalate invoice' })).toEqual(['meta-acme']);
  expect(await threadIdsOf({ toolName: ['get_weather'] })).toEqual([threads.toolCalls]);
  expect(await threadIdsOf({ toolName: ['lookup'] })).toEqual([threads.longThread]);
  expect(await threadIdsOf({ model: ['fake-claude-thinking'] })).toEqual([threads.reasoning]);
});

test("finds nothing of another tenant's thread", async () => {
  for (const filter of [{ text: 'marmalade' }, { metadata: { plan: 'enterprise', tenant_id: 'globex' } }]) {
    expect(await threadIdsOf(filter)).toEqual([]);
    expect(await threadIdsOf(filter, globexKey)).toEqual(['meta-globex']);
  }
  expect(await threadIdsOf({ model: ['fake-metadata-model'] }, globexKey)).toEqual(['meta-globex']);
});

test('indexes the new messages of a thread that grows, also when a replay indexed them first', async () => {
  const next = LONG_THREAD_TURNS + 1;
  expect(await threadIdsOf({ text: `k${next}` })).toEqual([]);
  await extendLangGraphFixture(url, 'longThread', threads.longThread, 2, saverOptions);
  // A replay of the grown thread indexes its new checkpoints before the sync sees them.
  const id = toGlobalId(
    'Conversation',
    (await server.db.prisma.conversation.findUniqueOrThrow({ where: { threadId: threads.longThread } })).id,
  );
  const replay = await server.graphql<{ conversation: { replay: { totalCount: number } } }>(
    `query($id: ID!) { conversation(id: $id) { replay(last: 5) { totalCount } } }`,
    { id },
  );
  expect(replay.errors).toBeUndefined();
  await syncConversations(server.db, config);
  expect(await threadIdsOf({ text: `k${next}` })).toEqual([threads.longThread]);
  expect(await threadIdsOf({ text: `"Question ${next + 1}"` })).toEqual([threads.longThread]);
  // Every user message is indexed exactly once.
  const users = await server.db.prisma.conversationSearchStep.count({
    where: { conversation: { threadId: threads.longThread }, type: 'USER_MESSAGE' },
  });
  expect(users).toBe(LONG_THREAD_TURNS + 2);
  // A pass with nothing new leaves the index as it is.
  await syncConversations(server.db, config);
  expect(
    await server.db.prisma.conversationSearchStep.count({ where: { conversation: { threadId: threads.longThread } } }),
  ).toBeGreaterThan(users);
  expect(await threadIdsOf({ text: `k${next}` })).toEqual([threads.longThread]);
});
