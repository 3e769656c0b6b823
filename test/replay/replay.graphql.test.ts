import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { conversationSyncConfigOf, syncConversations } from '../../src/conversations/conversation.sync';
import { messagesCacheOf } from '../../src/replay/replay.cache';
import { toJsonValue } from '../../src/replay/replay.json';
import { readReplayPage } from '../../src/replay/replay.repository';
import type { ReplayStep as EngineStep } from '../../src/replay/replay.transformer';
import type { TenantContext } from '../../src/core/context';
import {
  FIXTURE_NAMES,
  INTERRUPT_VALUE,
  LARGE_UNICODE_TEXT,
  LONG_THREAD_TURNS,
  NODE_ERROR_MESSAGE,
  RESUME_VALUE,
  STEPS_PER_LONG_TURN,
  UNICODE_USER_TEXT,
  extendLangGraphFixture,
  writeLangGraphFixtures,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { compareWithLangGraph, messagesOf, type ComparedThread } from './langgraph-comparison';

const STEP_FIELDS = `ordinal type timestamp durationMs node checkpointId namespace taskId messageId content toolName toolCallId
  params result status reasoning tokenUsage { input output total reasoning } model interruptId`;

const REPLAY = /* GraphQL */ `
  query Replay($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $types: [ReplayStepType!], $namespace: String) {
    conversation(id: $id) {
      replay(first: $first, after: $after, last: $last, before: $before, types: $types, namespace: $namespace) {
        edges { cursor node { ${STEP_FIELDS} } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        totalCount
      }
    }
  }
`;

/** Runs `work` and sums the bytes of the bytea values PostgreSQL sent meanwhile (to any client of this process). */
async function bytesReceived<T>(work: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const prototype = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = prototype.query;
  let bytes = 0;
  const count = (value: unknown) => {
    if (value instanceof Uint8Array) bytes += value.byteLength;
    else if (Array.isArray(value)) value.forEach(count);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(count);
  };
  prototype.query = function (this: Client, ...args: unknown[]) {
    const answer = query.apply(this, args);
    if (answer instanceof Promise) return answer.then((result: { rows?: unknown[] }) => (count(result?.rows), result));
    return answer;
  };
  try {
    return { result: await work(), bytes };
  } finally {
    prototype.query = query;
  }
}

/** A replay step as the API returns it. */
interface StepData {
  ordinal: number;
  type: string;
  timestamp: string;
  durationMs: number | null;
  node: string | null;
  checkpointId: string;
  namespace: string;
  taskId: string | null;
  messageId: string | null;
  content: string | null;
  toolName: string | null;
  toolCallId: string | null;
  params: unknown;
  result: unknown;
  status: 'SUCCESS' | 'ERROR' | null;
  reasoning: string | null;
  tokenUsage: { input: number | null; output: number | null; total: number | null; reasoning: number | null } | null;
  model: string | null;
  interruptId: string | null;
}

interface ReplayData {
  conversation: {
    replay: {
      edges: { cursor: string; node: StepData }[];
      pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
      totalCount: number;
    };
  } | null;
}

type ReplayVariables = {
  id: string;
  first?: number;
  after?: string | null;
  last?: number;
  before?: string | null;
  types?: string[];
  namespace?: string;
};

let server: TestServer;
let url: string;
let client: Client;
let threads: Record<FixtureName, string>;
/** Global ID of each fixture's conversation. */
const ids = {} as Record<FixtureName, string>;
const saverOptions = () => ({ singleConnection: !process.env.TEST_DATABASE_URL });
const compared = new Map<string, ComparedThread>();

beforeAll(async () => {
  // No per-key budget: these tests page through a long thread as fast as the machine goes (the budget has its own tests).
  server = await startTestServer({ CONVERSATION_DEFAULT_TENANT: 'acme', COST_BUDGET_MAX: '0' });
  url = server.config.database.url as string;
  ({ threads } = await writeLangGraphFixtures(url, saverOptions()));
  const summary = await syncConversations(server.db, conversationSyncConfigOf(server.config));
  expect(summary).toMatchObject({ threads: FIXTURE_NAMES.length, created: FIXTURE_NAMES.length, failed: 0 });
  const listed = await server.graphql<{ conversations: { nodes: { id: string; threadId: string }[] } }>(
    '{ conversations(first: 100) { nodes { id threadId } } }',
  );
  for (const name of FIXTURE_NAMES) ids[name] = listed.data!.conversations.nodes.find((node) => node.threadId === threads[name])!.id;
  client = new Client({ connectionString: url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await server?.close();
});

/** The engine's steps of a (thread, namespace), checked checkpoint by checkpoint against LangGraph's getStateHistory(). */
async function langGraphChecked(name: FixtureName, namespace = ''): Promise<ComparedThread> {
  const key = `${name}\u0000${namespace}`;
  if (!compared.has(key)) compared.set(key, await compareWithLangGraph(client, url, name, threads[name], namespace, saverOptions()));
  return compared.get(key)!;
}

async function replay(variables: ReplayVariables) {
  const response = await server.graphql<ReplayData>(REPLAY, variables);
  expect(response.errors).toBeUndefined();
  return response.data!.conversation!.replay;
}

/** Walks a replay forward (or backward) page by page and returns every step once, in order. */
async function walk(id: string, options: { pageSize: number; backward?: boolean; types?: string[]; namespace?: string }) {
  const steps: StepData[] = [];
  let cursor: string | null = null;
  let pages = 0;
  for (;;) {
    const page: ReplayData['conversation'] & object = {
      replay: await replay({
        id,
        ...(options.backward ? { last: options.pageSize, before: cursor } : { first: options.pageSize, after: cursor }),
        ...(options.types ? { types: options.types } : {}),
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      }),
    };
    pages += 1;
    const nodes = page.replay.edges.map((edge) => edge.node);
    if (options.backward) steps.unshift(...nodes);
    else steps.push(...nodes);
    const more = options.backward ? page.replay.pageInfo.hasPreviousPage : page.replay.pageInfo.hasNextPage;
    if (!more) break;
    cursor = options.backward ? page.replay.pageInfo.startCursor : page.replay.pageInfo.endCursor;
  }
  return { steps, pages };
}

/** An engine step in the form the API returns it. */
function asApiStep(step: EngineStep): StepData {
  return JSON.parse(
    JSON.stringify({
      ordinal: step.ordinal,
      type: step.type,
      timestamp: step.timestamp,
      durationMs: step.durationMs,
      node: step.node,
      checkpointId: step.checkpointId,
      namespace: step.namespace,
      taskId: step.taskId,
      messageId: step.messageId,
      content: step.content,
      toolName: step.toolName,
      toolCallId: step.toolCallId,
      params: toJsonValue(step.params),
      result: toJsonValue(step.result),
      status: step.status === null ? null : step.status.toUpperCase(),
      reasoning: step.reasoning,
      tokenUsage: step.tokens,
      model: step.model,
      interruptId: step.interruptId,
    }),
  ) as StepData;
}

/** The database key inside a conversation's global ID. */
const conversationKey = (id: string) => Buffer.from(id, 'base64url').toString('utf8').split(':')[1]!;
/** A replay cursor of the root namespace at `ordinal`, built as the API builds them. */
const replayCursor = (id: string, ordinal: number) =>
  Buffer.from(JSON.stringify([`ReplayStep:${conversationKey(id)}:`, ordinal, String(ordinal)])).toString('base64url');
const kinds = (steps: readonly StepData[]) => steps.map((step) => `${step.type}:${step.node ?? '-'}`);

describe('Conversation.replay over real LangGraph threads', () => {
  test.each(FIXTURE_NAMES)('%s: GraphQL returns the steps LangGraph getStateHistory() agrees with', async (name) => {
    const { steps } = await langGraphChecked(name);
    const { steps: api } = await walk(ids[name], { pageSize: 100 });
    expect(api).toEqual(steps.map(asApiStep));
    const first = await replay({ id: ids[name], first: 1 });
    expect(first.totalCount).toBe(steps.length);
  });

  test('conversations show status, title and rollups from the sync', async () => {
    const response = await server.graphql<{
      conversations: {
        nodes: {
          threadId: string;
          status: string;
          title: string | null;
          stepCount: number;
          tokenUsage: { input: number; output: number; reasoning: number };
          pendingInterrupts: { value: unknown; node: string | null }[];
          lastError: { name: string; message: string; node: string | null } | null;
          namespaces: string[];
        }[];
      };
    }>(`{ conversations(first: 100) { nodes { threadId status title stepCount tokenUsage { input output reasoning }
          pendingInterrupts { value node } lastError { name message node } namespaces } } }`);
    expect(response.errors).toBeUndefined();
    const byFixture = (name: FixtureName) => response.data!.conversations.nodes.find((node) => node.threadId === threads[name])!;
    for (const name of FIXTURE_NAMES) {
      const { steps, snapshots } = await langGraphChecked(name);
      const usage = messagesOf(snapshots.at(-1)).flatMap((message) => {
        const metadata = (message as { usage_metadata?: { input_tokens: number; output_tokens: number } }).usage_metadata;
        return metadata === undefined ? [] : [metadata];
      });
      expect({ name, ...byFixture(name) }).toMatchObject({
        name,
        stepCount: steps.length,
        tokenUsage: {
          input: usage.reduce((sum, item) => sum + item.input_tokens, 0),
          output: usage.reduce((sum, item) => sum + item.output_tokens, 0),
        },
        status: name === 'interruptPending' ? 'INTERRUPTED' : name === 'nodeError' ? 'ERROR' : 'IDLE',
      });
    }
    expect(byFixture('interruptPending').pendingInterrupts).toEqual([{ value: INTERRUPT_VALUE, node: 'tools' }]);
    expect(byFixture('nodeError').lastError).toEqual({ name: 'Error', message: NODE_ERROR_MESSAGE, node: 'save_report' });
    expect(byFixture('toolCalls').title).toBe("What's the weather in Paris?");
    expect(byFixture('unicode').title).toBe(UNICODE_USER_TEXT);
    expect(byFixture('subgraph').namespaces).toEqual(['', expect.stringMatching(/^research:[0-9a-f-]{36}$/)]);
    expect(byFixture('plainChat').namespaces).toEqual(['']);
  });

  test('tool calls with results, a failed tool, and parallel calls in both forms', async () => {
    const { steps: toolCalls } = await walk(ids.toolCalls, { pageSize: 50 });
    const call = toolCalls.find((step) => step.type === 'TOOL_CALL')!;
    const result = toolCalls.find((step) => step.type === 'TOOL_RESULT')!;
    expect(call).toMatchObject({ toolName: 'get_weather', toolCallId: 'call_weather_paris', params: { city: 'Paris' }, node: 'agent' });
    expect(result).toMatchObject({
      toolCallId: 'call_weather_paris',
      status: 'SUCCESS',
      content: 'Weather in Paris: 18°C, sunny',
      node: 'tools',
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);

    const { steps: failed } = await walk(ids.toolError, { pageSize: 50 });
    expect(failed.find((step) => step.type === 'TOOL_RESULT')).toMatchObject({
      status: 'ERROR',
      toolName: 'convert_currency',
      content: expect.stringContaining('Unknown currency code "XYZ"'),
    });

    for (const name of ['parallelToolNode', 'parallelSend'] as const) {
      const { steps } = await walk(ids[name], { pageSize: 50 });
      const results = steps.filter((step) => step.type === 'TOOL_RESULT');
      expect(steps.filter((step) => step.type === 'TOOL_CALL').map((step) => step.toolCallId)).toEqual([
        `call_${name}_paris`,
        `call_${name}_tokyo`,
      ]);
      expect(results.map((step) => step.toolCallId).sort()).toEqual([`call_${name}_paris`, `call_${name}_tokyo`]);
      // Both calls ran in one superstep: one checkpoint, one duration.
      expect(new Set(results.map((step) => `${step.checkpointId}/${step.durationMs}`)).size).toBe(1);
      if (name === 'parallelSend') expect(new Set(results.map((step) => step.taskId)).size).toBe(2);
    }
  });

  test('interrupt and resume, an unhandled error, a state update and reasoning in three encodings', async () => {
    const { steps: resumed } = await walk(ids.interruptResume, { pageSize: 50 });
    const interrupt = resumed.find((step) => step.type === 'INTERRUPT')!;
    const resume = resumed.find((step) => step.type === 'RESUME')!;
    expect(interrupt).toMatchObject({ params: INTERRUPT_VALUE, node: 'tools', durationMs: null });
    expect(resume).toMatchObject({ params: RESUME_VALUE, interruptId: interrupt.interruptId, checkpointId: interrupt.checkpointId });

    const { steps: crashed } = await walk(ids.nodeError, { pageSize: 50 });
    expect(crashed.at(-1)).toMatchObject({
      type: 'ERROR',
      node: 'save_report',
      status: 'ERROR',
      result: { name: 'Error', message: NODE_ERROR_MESSAGE },
    });

    const { steps: updated } = await walk(ids.updateState, { pageSize: 50 });
    const update = updated.find((step) => step.type === 'STATE_UPDATE')!;
    expect(update).toMatchObject({
      content: 'State updated: added 1 message; channels: messages',
      params: { addedMessageIds: ['operator-note-1'] },
    });
    expect(updated[updated.indexOf(update) + 1]).toMatchObject({ type: 'ASSISTANT_MESSAGE', content: 'Operator: refund of $12 approved.' });

    const { steps: reasoning } = await walk(ids.reasoning, { pageSize: 50, types: ['REASONING'] });
    expect(reasoning.map((step) => [step.reasoning, step.model, step.tokenUsage?.reasoning])).toEqual([
      ['The user wants a prime. 7 is prime.', 'fake-claude-thinking', 18],
      ['11 is the next prime after 7.', 'fake-gpt-test', 12],
      ['Primes after 11: 13.', 'fake-deepseek-reasoner', 9],
      ['Skip 15 (3×5).\n\n17 is prime.', 'fake-o4-mini', 30],
    ]);
  });

  test('a subgraph replays in its own namespace, with cursors of its own', async () => {
    const namespaces = await server.graphql<{ conversation: { namespaces: string[] } }>(
      'query($id: ID!) { conversation(id: $id) { namespaces } }',
      {
        id: ids.subgraph,
      },
    );
    const namespace = namespaces.data!.conversation.namespaces[1]!;
    const { steps } = await langGraphChecked('subgraph', namespace);
    const { steps: api } = await walk(ids.subgraph, { pageSize: 3, namespace });
    expect(api).toEqual(steps.map(asApiStep));
    expect(kinds(api)).toContain('TOOL_CALL:agent');
    expect(api.every((step) => step.namespace === namespace)).toBe(true);

    const root = await replay({ id: ids.subgraph, first: 1 });
    const crossed = await server.graphql(REPLAY, { id: ids.subgraph, first: 1, after: root.pageInfo.endCursor, namespace });
    expect(crossed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('unicode and a 50 KB message come back byte for byte', async () => {
    const { steps } = await walk(ids.unicode, { pageSize: 50 });
    expect(steps[0]).toMatchObject({ type: 'USER_MESSAGE', content: UNICODE_USER_TEXT });
    expect(steps.find((step) => step.type === 'TOOL_RESULT')!.content).toBe('«こんにちは世界 🌏» → مرحبا بالعالم');
    const answer = steps.at(-1)!;
    expect(answer.content).toBe(LARGE_UNICODE_TEXT);
    expect(Buffer.byteLength(answer.content!, 'utf8')).toBeGreaterThanOrEqual(50 * 1024);
  });
});

describe('paging the long thread', () => {
  let all: StepData[];

  beforeAll(async () => {
    all = (await langGraphChecked('longThread')).steps.map(asApiStep);
    expect(all).toHaveLength(LONG_THREAD_TURNS * STEPS_PER_LONG_TURN);
  });

  test.each([10, 100])('forward and backward in pages of %i return every step exactly once', async (pageSize) => {
    const forward = await walk(ids.longThread, { pageSize });
    const backward = await walk(ids.longThread, { pageSize, backward: true });
    expect(forward.steps).toEqual(all);
    expect(backward.steps).toEqual(all);
    expect(forward.pages).toBe(Math.ceil(all.length / pageSize));
  });

  test.each([['TOOL_RESULT'], ['USER_MESSAGE', 'ASSISTANT_MESSAGE']])(
    'only %j, forward and backward, with a matching totalCount',
    async (...types) => {
      const expected = all.filter((step) => types.includes(step.type));
      const forward = await walk(ids.longThread, { pageSize: 20, types });
      const backward = await walk(ids.longThread, { pageSize: 15, types, backward: true });
      expect(forward.steps).toEqual(expected);
      expect(backward.steps).toEqual(expected);
      expect((await replay({ id: ids.longThread, first: 1, types })).totalCount).toBe(expected.length);
    },
  );

  test('page info and cursors around the ends', async () => {
    const first = await replay({ id: ids.longThread, first: 5 });
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const last = await replay({ id: ids.longThread, last: 5 });
    expect(last.edges.map((edge) => edge.node.ordinal)).toEqual([206, 207, 208, 209, 210]);
    expect(last.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const past = await replay({ id: ids.longThread, first: 5, after: last.pageInfo.endCursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
    const before = await replay({ id: ids.longThread, last: 3, before: first.edges[2]!.cursor });
    expect(before.edges.map((edge) => edge.node.ordinal)).toEqual([1, 2]);
    expect(before.pageInfo.hasPreviousPage).toBe(false);
  });

  test('a `before` past the end of the thread is clamped to its end', async () => {
    const ordinals = (page: { edges: { node: { ordinal: number } }[] }) => page.edges.map((edge) => edge.node.ordinal);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);
    for (const beyond of [211, 212, 300, 100_000]) {
      const page = await replay({ id: ids.longThread, last: 100, before: replayCursor(ids.longThread, beyond) });
      expect(ordinals(page)).toEqual(range(111, 210));
      expect(page.pageInfo.hasPreviousPage).toBe(true);
    }
    const short = await replay({ id: ids.plainChat, last: 100 });
    expect(short.pageInfo.hasPreviousPage).toBe(false);
    const beyondShort = await replay({ id: ids.plainChat, last: 5, before: replayCursor(ids.plainChat, 151) });
    expect(ordinals(beyondShort)).toEqual(ordinals(short).slice(-5));
    expect(beyondShort.pageInfo.hasPreviousPage).toBe(ordinals(short).length > 5);
  });

  test('a page costs the same statements wherever it sits, and about the same time', async () => {
    const statementsOf = async (variables: ReplayVariables) => {
      const { statements } = await server.db.statements.record(() => replay(variables));
      return statements.filter((sql) => !/api_keys/.test(sql));
    };
    const cursors = (await replay({ id: ids.longThread, first: 100 })).edges.map((edge) => edge.cursor);
    const counts: number[] = [];
    for (const variables of [
      { id: ids.longThread, first: 20 },
      { id: ids.longThread, first: 20, after: cursors[9] },
      { id: ids.longThread, first: 20, after: cursors[94] },
      { id: ids.longThread, last: 20, before: cursors[60] },
      { id: ids.longThread, last: 20 },
      { id: ids.longThread, first: 20, types: ['TOOL_CALL'] },
      { id: ids.longThread, last: 20, types: ['USER_MESSAGE'] },
    ]) {
      const statements = await statementsOf(variables);
      counts.push(statements.length);
    }
    // The conversation, one statement for the index window (with its checkpoints), one for its blobs, one for its
    // writes, and the totalCount summed from the index.
    expect(counts).toEqual(counts.map(() => 5));

    const time = async (variables: ReplayVariables) => {
      const runs: number[] = [];
      for (let run = 0; run < 7; run += 1) {
        const started = performance.now();
        await replay(variables);
        runs.push(performance.now() - started);
      }
      return runs.sort((a, b) => a - b)[3]!;
    };
    const firstPage = await time({ id: ids.longThread, first: 20 });
    const lastPage = await time({ id: ids.longThread, last: 20 });
    console.log(
      `long thread (${all.length} steps): first page ${firstPage.toFixed(1)} ms, last page ${lastPage.toFixed(1)} ms (median of 7)`,
    );
    // Loose, to stay stable on a loaded machine: blobs near the end hold the longer message list, nothing more.
    expect(lastPage).toBeLessThan(4 * firstPage + 100);
  });
});

describe('errors and isolation', () => {
  test.each([[{ after: 'not-a-cursor' }], [{ first: 0 }], [{ first: 101 }], [{ first: 5, last: 5 }], [{ first: 5, before: 'x' }]])(
    'rejects %j with BAD_USER_INPUT',
    async (variables) => {
      const response = await server.graphql(REPLAY, { id: ids.plainChat, ...variables });
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    },
  );

  test('a cursor of another conversation, or a forged position, is BAD_USER_INPUT', async () => {
    const other = (await replay({ id: ids.longThread, first: 3 })).pageInfo.endCursor;
    for (const variables of [
      { first: 2, after: other },
      { last: 2, before: other },
      { first: 2, after: replayCursor(ids.plainChat, 0) },
      { first: 2, after: replayCursor(ids.plainChat, 2_147_483_648) },
      { first: 2, after: replayCursor(ids.plainChat, 1.5) },
      { first: 2, after: Buffer.from(JSON.stringify([`ReplayStep:${conversationKey(ids.plainChat)}:`, 2, 'x'])).toString('base64url') },
    ]) {
      const response = await server.graphql(REPLAY, { id: ids.plainChat, ...variables });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
  });

  test('a cursor of another list is BAD_USER_INPUT', async () => {
    const list = await server.graphql<{ conversations: { pageInfo: { endCursor: string } } }>(
      '{ conversations(first: 1) { pageInfo { endCursor } } }',
    );
    const response = await server.graphql(REPLAY, { id: ids.plainChat, first: 2, after: list.data!.conversations.pageInfo.endCursor });
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('another tenant reaches neither the conversation nor its replay, even through the repository', async () => {
    const globexKey = await server.createKey('globex', ['read']);
    const response = await server.graphql(REPLAY, { id: ids.toolCalls, first: 5 }, { apiKey: globexKey });
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ conversation: null });
    const key = Buffer.from(ids.toolCalls, 'base64url').toString('utf8').split(':')[1]!;
    const context = { db: server.db, viewer: { tenantId: 'globex' } } as unknown as TenantContext;
    const conversation = { key, threadId: threads.toolCalls };
    expect(await readReplayPage(context, conversation, '', { want: 3, backward: false, cursor: null, types: null })).toEqual([]);
    const acme = { db: server.db, viewer: { tenantId: 'acme' } } as unknown as TenantContext;
    expect(await readReplayPage(acme, conversation, '', { want: 3, backward: false, cursor: null, types: null })).toHaveLength(3);
    // With that thread's lists now cached, the other tenant still reaches nothing.
    expect(messagesCacheOf(server.db).size).toBeGreaterThan(0);
    expect(await readReplayPage(context, conversation, '', { want: 3, backward: false, cursor: null, types: null })).toEqual([]);
    const again = await server.graphql(REPLAY, { id: ids.toolCalls, first: 5 }, { apiKey: globexKey });
    expect(again.data).toEqual({ conversation: null });
  });

  test('a page served from the messages cache is the page read afresh, in the same statements', async () => {
    const cache = messagesCacheOf(server.db);
    const pageOf = async () => {
      const { result, statements } = await server.db.statements.record(() => replay({ id: ids.longThread, last: 20 }));
      return { result, count: statements.filter((sql) => !/api_keys/.test(sql)).length };
    };
    cache.clear();
    const cold = await pageOf();
    expect(cache.size).toBeGreaterThan(0);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    const warm = await pageOf();
    expect(warm).toEqual(cold);
    expect(cold.count).toBe(5);
  });
});

describe('replay before the sync catches up', () => {
  test('a thread LangGraph went on with is indexed on demand and replays correctly', async () => {
    await extendLangGraphFixture(url, 'interruptPending', threads.interruptPending, 0, saverOptions());
    compared.delete(`interruptPending\u0000`);
    const { steps } = await langGraphChecked('interruptPending');
    const { steps: api } = await walk(ids.interruptPending, { pageSize: 4 });
    expect(api).toEqual(steps.map(asApiStep));
    expect(kinds(api)).toContain('RESUME:tools');
    // The index is current again: the next page is the usual five statements.
    const { statements } = await server.db.statements.record(() => replay({ id: ids.interruptPending, first: 3 }));
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(5);
  });

  test('when the index cannot prove a list a prefix of a newer one, the page loads that blob too and stays exact', async () => {
    const expected = await replay({ id: ids.longThread, first: 30, after: null });
    await server.db.prisma.conversationStepIndex.updateMany({
      where: { threadId: threads.longThread },
      data: { messagesDigest: 'not a digest' },
    });
    const { result, statements } = await server.db.statements.record(() => replay({ id: ids.longThread, first: 30 }));
    expect(result).toEqual(expected);
    // One more statement than usual: the blobs the facts did not prove.
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(6);
    await server.db.prisma.conversationStepIndex.deleteMany({ where: { threadId: threads.longThread } });
    expect(await replay({ id: ids.longThread, first: 30 })).toEqual(expected);
  });

  test("the index holds each list's length, digest and whether it extends the list before, as its bytes say", async () => {
    // The index computes these facts in PostgreSQL, so that it need not read every list; here they are checked in JS.
    const blobs = await server.db.prisma.langGraphCheckpointBlob.findMany({ where: { channel: 'messages', type: 'json' } });
    const byFacts = new Map<string, Buffer>();
    for (const { threadId, checkpointNs, blob } of blobs) {
      const bytes = Buffer.from(blob!);
      const digest = createHash('sha256')
        .update(bytes.subarray(0, bytes.length - 1))
        .digest('hex');
      byFacts.set(`${threadId}|${checkpointNs}|${bytes.length}|${digest}`, bytes);
    }
    const extendsList = (shorter: Buffer, longer: Buffer) => {
      const head = shorter.length - 1;
      const boundary = head === 1 || longer[head] === 0x2c || shorter.length === longer.length;
      return shorter.length <= longer.length && boundary && shorter.subarray(0, head).equals(longer.subarray(0, head));
    };
    const rows = await server.db.prisma.conversationStepIndex.findMany({
      orderBy: [{ threadId: 'asc' }, { checkpointNs: 'asc' }, { stepsBefore: 'asc' }, { checkpointId: 'asc' }],
    });
    const seen = { extending: 0, notExtending: 0 };
    let previous: { lineage: string; key: string | null; extendsParent: boolean | null } = { lineage: '', key: null, extendsParent: null };
    for (const row of rows) {
      const lineage = `${row.threadId}|${row.checkpointNs}`;
      if (lineage !== previous.lineage) previous = { lineage, key: null, extendsParent: null };
      if (row.messagesBytes === null) {
        expect(row).toMatchObject({ messagesDigest: null, messagesCount: null, messagesExtendsParent: null });
        continue;
      }
      const key = `${lineage}|${row.messagesBytes}|${row.messagesDigest}`;
      const own = byFacts.get(key);
      expect(own).toBeDefined();
      const before = previous.key === null ? undefined : byFacts.get(previous.key);
      // A checkpoint that left the list as it was carries the facts of the checkpoint that wrote it.
      const expected = key === previous.key ? previous.extendsParent : before !== undefined && extendsList(before, own!);
      expect({ checkpoint: row.checkpointId, extendsParent: row.messagesExtendsParent }).toEqual({
        checkpoint: row.checkpointId,
        extendsParent: expected,
      });
      if (key !== previous.key) seen[expected ? 'extending' : 'notExtending'] += 1;
      previous = { lineage, key, extendsParent: row.messagesExtendsParent };
    }
    expect(seen.extending).toBeGreaterThan(LONG_THREAD_TURNS);
    expect(seen.notExtending).toBeGreaterThan(0);
  });

  test('indexing a long thread reads only the newest list of each stretch of lists extending each other', async () => {
    const expected = await replay({ id: ids.longThread, first: 10 });
    await server.db.prisma.conversationStepIndex.deleteMany({ where: { threadId: threads.longThread } });
    const lists = await server.db.prisma.langGraphCheckpointBlob.findMany({ where: { threadId: threads.longThread, channel: 'messages' } });
    const allBytes = lists.reduce((sum, list) => sum + list.blob!.byteLength, 0);
    const { result, bytes } = await bytesReceived(() => replay({ id: ids.longThread, first: 10 }));
    expect(result).toEqual(expected);
    // Reading every list (as the index build once did) receives more than all of them: 1.46 MB of 1.37 MB here.
    expect(bytes).toBeLessThan(allBytes / 2);
  });

  test('a thread whose index is missing replays correctly', async () => {
    await server.db.prisma.conversationStepIndex.deleteMany({ where: { threadId: threads.toolCalls } });
    const { steps } = await langGraphChecked('toolCalls');
    const { steps: api } = await walk(ids.toolCalls, { pageSize: 2 });
    expect(api).toEqual(steps.map(asApiStep));
    expect(await server.db.prisma.conversationStepIndex.count({ where: { threadId: threads.toolCalls } })).toBeGreaterThan(0);
  });
});
