import { MessagesAnnotation, StateGraph, START, END } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { Client, Pool } from 'pg';
import { conversationSyncJob } from '../../src/conversations/conversation-sync.job';
import {
  conversationSyncConfigOf,
  syncConversations,
  type ConversationSyncConfig,
  type ConversationSyncSummary,
} from '../../src/conversations/conversation.sync';
import { createDatabase, type Database } from '../../src/db/client';
import { CheckpointBlobStore, CheckpointWriteStore, orderCheckpointLineage } from '../../src/replay/checkpoint.rows';
import { indexCheckpointWindow } from '../../src/replay/replay.step-index';
import {
  INTERRUPT_VALUE,
  NODE_ERROR_MESSAGE,
  STEPS_PER_LONG_TURN,
  extendLangGraphFixture,
  getLangGraphHistory,
  writeLangGraphFixtures,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { ScriptedChatModel } from '../fixtures/langgraph/scripted-chat-model';
import { startTestServer, type TestServer } from '../helpers/server';
import { messagesOf } from '../replay/langgraph-comparison';
import { loadThreadRows } from '../replay/checkpoint-rows';

/** Prices per million tokens (USD); `fake-o4-mini` is left unpriced on purpose. */
const PRICES = {
  'fake-gpt-test': { input: 2.5, output: 10 },
  'fake-claude-thinking': { input: 3, output: 15 },
  'fake-deepseek-reasoner': { input: 0.55, output: 2.19 },
};
const FIXTURES: FixtureName[] = ['longThread', 'interruptPending', 'nodeError', 'reasoning', 'toolCalls'];
const CONCURRENT_FIXTURES: FixtureName[] = ['plainChat', 'parallelSend', 'updateState', 'subgraph', 'unicode'];
const pglite = !process.env.TEST_DATABASE_URL;
const saverOptions = { singleConnection: pglite };

const CONVERSATIONS = /* GraphQL */ `
  {
    conversations(first: 100) {
      nodes {
        threadId
        status
        stepCount
        costUsd
        title
        tokenUsage {
          input
          output
          reasoning
        }
        pendingInterrupts {
          value
          node
        }
        lastError {
          name
          message
          node
        }
      }
    }
  }
`;

interface ConversationNode {
  threadId: string;
  status: string;
  stepCount: number;
  costUsd: string;
  title: string | null;
  tokenUsage: { input: number; output: number; reasoning: number };
  pendingInterrupts: { value: unknown; node: string | null }[];
  lastError: { name: string; message: string; node: string | null } | null;
}

let server: TestServer;
let url: string;
let client: Client;
let threads: Record<FixtureName, string>;
let config: ConversationSyncConfig;
/** Thread ids of the runs tagged with a tenant in their metadata. */
const tagged = { globex: 'tagged-globex', unknown: 'tagged-nosuch' };

/** A saver that copies the run's `config.metadata.tenant_id` into checkpoint metadata, as LangGraph Python does. */
class TenantTaggingSaver extends PostgresSaver {
  override put(...[runConfig, checkpoint, metadata, versions]: Parameters<PostgresSaver['put']>): ReturnType<PostgresSaver['put']> {
    const tenant = runConfig.metadata?.tenant_id;
    // CheckpointMetadata declares LangGraph's own keys only; the saver stores any extra key as it is.
    const tagged = tenant === undefined ? metadata : ({ ...metadata, tenant_id: tenant } as typeof metadata);
    return super.put(runConfig, checkpoint, tagged, versions);
  }
}

/** Runs a one-node chat graph with real LangGraph, passing `tenant_id` in the run's metadata. */
async function runTaggedThread(threadId: string, tenantId: string): Promise<void> {
  const saver = new TenantTaggingSaver(new Pool({ connectionString: url, max: 1 }));
  try {
    const model = new ScriptedChatModel([
      {
        content: `Hello from ${tenantId}.`,
        usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
        response_metadata: { model_name: 'fake-gpt-test' },
      },
    ]);
    const graph = new StateGraph(MessagesAnnotation)
      .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addEdge(START, 'agent')
      .addEdge('agent', END)
      .compile({ checkpointer: saver });
    await graph.invoke(
      { messages: [{ role: 'user', content: `Hi, I work at ${tenantId}.` }] },
      { configurable: { thread_id: threadId }, metadata: { tenant_id: tenantId } },
    );
  } finally {
    await saver.end();
  }
}

async function listConversations(apiKey?: string): Promise<ConversationNode[]> {
  const response = await server.graphql<{ conversations: { nodes: ConversationNode[] } }>(
    CONVERSATIONS,
    {},
    apiKey === undefined ? {} : { apiKey },
  );
  expect(response.errors).toBeUndefined();
  return response.data!.conversations.nodes;
}

async function conversationOf(threadId: string): Promise<ConversationNode> {
  return (await listConversations()).find((node) => node.threadId === threadId)!;
}

/** The step index as stored, in lineage order. */
async function storedIndex(threadId: string, namespace = '') {
  return server.db.prisma.conversationStepIndex.findMany({
    where: { threadId, checkpointNs: namespace },
    orderBy: [{ stepsBefore: 'asc' }, { checkpointId: 'asc' }],
  });
}

/** Asserts the stored index equals the index of the whole thread computed from scratch. */
async function expectIndexRebuildsTheSame(threadId: string, namespace = ''): Promise<void> {
  const rows = await loadThreadRows(client, threadId, namespace);
  const expected = indexCheckpointWindow({
    checkpoints: orderCheckpointLineage(rows.checkpoints),
    parentOfFirst: null,
    blobs: new CheckpointBlobStore(rows.blobs),
    writes: new CheckpointWriteStore(rows.writes),
    stepsBefore: 0,
  });
  const stored = await storedIndex(threadId, namespace);
  expect(
    stored.map((row) => ({
      checkpointId: row.checkpointId,
      parentCheckpointId: row.parentCheckpointId,
      timestamp: row.ts.toISOString(),
      stepsBefore: row.stepsBefore,
      stepCount: row.stepCount,
      typeCounts: row.typeCounts,
      tokens: { input: row.inputTokens, output: row.outputTokens, reasoning: row.reasoningTokens, total: row.totalTokens },
      models: row.models,
    })),
  ).toEqual(expected);
}

/** Cost in units of 1e-8 USD, from LangGraph's own usage_metadata, with integer arithmetic only. */
async function expectedCost(name: FixtureName, threadId: string): Promise<string> {
  const [newest] = await getLangGraphHistory(url, name, threadId, '', saverOptions);
  let units = 0n;
  for (const message of messagesOf(newest)) {
    const usage = (message as { usage_metadata?: { input_tokens: number; output_tokens: number } }).usage_metadata;
    const model = (message as { response_metadata?: { model_name?: string } }).response_metadata?.model_name;
    const price = PRICES[model as keyof typeof PRICES];
    if (usage === undefined || price === undefined) continue;
    // Prices have at most two decimals: price × 100 is whole, and tokens × price / 1e6 USD = tokens × price × 100 units.
    units +=
      BigInt(usage.input_tokens) * BigInt(Math.round(price.input * 100)) +
      BigInt(usage.output_tokens) * BigInt(Math.round(price.output * 100));
  }
  return `${units / 100_000_000n}.${String(units % 100_000_000n).padStart(8, '0')}`;
}

const touched = (summary: ConversationSyncSummary) => summary.created + summary.updated;

beforeAll(async () => {
  server = await startTestServer({ MODEL_PRICES: JSON.stringify(PRICES) });
  url = server.config.database.url as string;
  config = { ...conversationSyncConfigOf(server.config), defaultTenant: undefined };
  ({ threads } = await writeLangGraphFixtures(url, { only: FIXTURES, ...saverOptions }));
  await runTaggedThread(tagged.globex, 'globex');
  await runTaggedThread(tagged.unknown, 'nosuch');
  client = new Client({ connectionString: url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await server?.close();
});

/** Every thread of a pass is counted exactly once. */
function expectCountsAddUp(summary: ConversationSyncSummary): void {
  const { created, updated, unchanged, busy, skippedNoTenant, skippedUnknownTenant, failed } = summary;
  expect(created + updated + unchanged + busy + skippedNoTenant + skippedUnknownTenant + failed).toBe(summary.threads);
}

describe('conversation sync', () => {
  test('attaches threads by the tenant key in their metadata, and skips and counts those without a tenant', async () => {
    const summary = await syncConversations(server.db, config);
    expect(summary).toMatchObject({
      threads: FIXTURES.length + 2,
      changed: 1,
      created: 1,
      skippedNoTenant: FIXTURES.length,
      skippedUnknownTenant: 1,
      unknownTenants: ['nosuch'],
      failed: 0,
    });
    expectCountsAddUp(summary);
    const globexKey = await server.createKey('globex', ['read']);
    expect((await listConversations(globexKey)).map((node) => [node.threadId, node.title, node.status])).toEqual([
      [tagged.globex, 'Hi, I work at globex.', 'IDLE'],
    ]);
    expect(await listConversations()).toEqual([]);
  });

  test('the configured default tenant takes the threads without a key; an unknown tenant is never replaced by it', async () => {
    config = { ...conversationSyncConfigOf(server.config), defaultTenant: 'acme' };
    const summary = await syncConversations(server.db, config);
    expect(summary).toMatchObject({
      threads: FIXTURES.length + 2,
      created: FIXTURES.length,
      updated: 0,
      skippedUnknownTenant: 1,
      failed: 0,
    });
    expect((await listConversations()).map((node) => node.threadId).sort()).toEqual(FIXTURES.map((name) => threads[name]).sort());
  });

  test('status: INTERRUPTED with the pending interrupt, ERROR with the last error, IDLE otherwise', async () => {
    expect(await conversationOf(threads.interruptPending)).toMatchObject({
      status: 'INTERRUPTED',
      pendingInterrupts: [{ value: INTERRUPT_VALUE, node: 'tools' }],
      lastError: null,
    });
    expect(await conversationOf(threads.nodeError)).toMatchObject({
      status: 'ERROR',
      pendingInterrupts: [],
      lastError: { name: 'Error', message: NODE_ERROR_MESSAGE, node: 'save_report' },
    });
    expect(await conversationOf(threads.toolCalls)).toMatchObject({ status: 'IDLE', title: "What's the weather in Paris?", stepCount: 5 });
  });

  test('cost comes from the price table in exact decimals; unpriced models are reported', async () => {
    for (const name of ['reasoning', 'longThread', 'toolCalls'] as const) {
      expect({ name, cost: (await conversationOf(threads[name])).costUsd }).toEqual({
        name,
        cost: await expectedCost(name, threads[name]),
      });
    }
    // Per million tokens: 20×$3 + 30×$15 (claude) + 40×$2.5 + 25×$10 (gpt) + 60×$0.55 + 20×$2.19 (deepseek); o4-mini unpriced.
    expect((await conversationOf(threads.reasoning)).costUsd).toBe('0.00093680');
    const unrelated = { ...config, modelPrices: {} };
    await runTaggedThread('priced-later', 'acme');
    expect((await syncConversations(server.db, unrelated)).unpricedModels).toEqual(['fake-gpt-test']);
  });

  test('every namespace is indexed, equal to an index built from scratch', async () => {
    for (const name of FIXTURES) await expectIndexRebuildsTheSame(threads[name]);
  });

  test('a second sync touches no thread', async () => {
    const summary = await syncConversations(server.db, config);
    expect(summary).toMatchObject({ changed: 0, created: 0, updated: 0, checkpointsIndexed: 0, skippedUnknownTenant: 1, failed: 0 });
    expect(summary.unchanged).toBe(summary.threads - 1);
    expectCountsAddUp(summary);
    expect(touched(summary)).toBe(0);
  });

  test('after another LangGraph turn, exactly that thread is synced and its index extended, not rebuilt', async () => {
    const threadId = threads.longThread;
    const before = await storedIndex(threadId);
    const versions = new Map(
      (
        await client.query<{ checkpoint_id: string; xmin: string }>(
          `SELECT checkpoint_id, xmin::text FROM conversation_step_index WHERE thread_id = $1`,
          [threadId],
        )
      ).rows.map((row) => [row.checkpoint_id, row.xmin]),
    );
    const stepsBefore = (await conversationOf(threadId)).stepCount;
    await extendLangGraphFixture(url, 'longThread', threadId, 1, saverOptions);
    const checkpoints = (await loadThreadRows(client, threadId)).checkpoints.length;

    const summary = await syncConversations(server.db, config);
    const added = checkpoints - before.length;
    // The new checkpoints, plus the previous head read again (writes may have landed under it).
    expect(summary).toMatchObject({ changed: 1, created: 0, updated: 1, checkpointsIndexed: added + 1, failed: 0 });
    expect((await conversationOf(threadId)).stepCount).toBe(stepsBefore + STEPS_PER_LONG_TURN);
    const after = await storedIndex(threadId);
    expect(after).toHaveLength(checkpoints);
    const untouched = (
      await client.query<{ checkpoint_id: string; xmin: string }>(
        `SELECT checkpoint_id, xmin::text FROM conversation_step_index WHERE thread_id = $1`,
        [threadId],
      )
    ).rows.filter((row) => versions.get(row.checkpoint_id) === row.xmin);
    // Every row but the previous head kept its row version: none was deleted and written again.
    expect(untouched.map((row) => row.checkpoint_id).sort()).toEqual(
      before
        .slice(0, -1)
        .map((row) => row.checkpointId)
        .sort(),
    );
    await expectIndexRebuildsTheSame(threadId);
  });

  test('a resume turns INTERRUPTED into IDLE, and the paused checkpoint gains its RESUME step', async () => {
    const threadId = threads.interruptPending;
    const paused = (await storedIndex(threadId)).at(-1)!;
    expect(paused.typeCounts).toEqual({ TOOL_CALL: 1, INTERRUPT: 1 });
    await extendLangGraphFixture(url, 'interruptPending', threadId, 0, saverOptions);
    const summary = await syncConversations(server.db, config);
    expect(summary).toMatchObject({ changed: 1, updated: 1, failed: 0 });
    expect(await conversationOf(threadId)).toMatchObject({ status: 'IDLE', pendingInterrupts: [], lastError: null });
    expect((await storedIndex(threadId)).find((row) => row.checkpointId === paused.checkpointId)?.typeCounts).toEqual({
      TOOL_CALL: 1,
      INTERRUPT: 1,
      RESUME: 1,
    });
    await expectIndexRebuildsTheSame(threadId);
  });

  test('two syncs running at once sync every thread exactly once', async () => {
    const { threads: fresh } = await writeLangGraphFixtures(url, {
      only: CONCURRENT_FIXTURES,
      threadPrefix: 'concurrent',
      ...saverOptions,
    });
    // On PostgreSQL each runner has its own pool; an embedded PGlite is one session, so there they share its connection.
    const runners: Database[] = pglite
      ? [server.db, server.db]
      : [createDatabase(url, { poolMax: 2 }), createDatabase(url, { poolMax: 2 })];
    try {
      const summaries = await Promise.all(runners.map((db) => syncConversations(db, config)));
      const sum = (field: 'created' | 'updated' | 'failed') => summaries.reduce((total, summary) => total + summary[field], 0);
      expect({ created: sum('created'), updated: sum('updated'), failed: sum('failed') }).toEqual({
        created: CONCURRENT_FIXTURES.length,
        updated: 0,
        failed: 0,
      });
      for (const summary of summaries) expectCountsAddUp(summary);
      console.log(
        `two concurrent syncs: ${summaries.map((summary) => JSON.stringify({ created: summary.created, unchanged: summary.unchanged, busy: summary.busy })).join(' ')}`,
      );
    } finally {
      if (!pglite) await Promise.all(runners.map((db) => db.close()));
    }
    for (const name of CONCURRENT_FIXTURES) {
      expect(await server.db.prisma.conversation.count({ where: { threadId: fresh[name] } })).toBe(1);
      await expectIndexRebuildsTheSame(fresh[name]);
    }
    const namespaces = await client.query<{ ns: string }>(
      `SELECT DISTINCT checkpoint_ns AS ns FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns <> ''`,
      [fresh.subgraph],
    );
    expect(namespaces.rows).toHaveLength(1);
    await expectIndexRebuildsTheSame(fresh.subgraph, namespaces.rows[0]!.ns);
    expect(touched(await syncConversations(server.db, config))).toBe(0);
  });

  test('the server job runs the same pass', async () => {
    const job = conversationSyncJob(server.db, { ...server.config, conversations: config });
    expect(job).toMatchObject({ name: 'conversation-sync', intervalMs: server.config.jobs.conversationSyncIntervalSeconds * 1000 });
    expect(await job.run()).toMatchObject({ changed: 0, failed: 0 });
  });
});
