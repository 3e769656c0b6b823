import { Client } from 'pg';
import {
  FIXTURE_NAMES,
  INTERRUPT_VALUE,
  LARGE_UNICODE_TEXT,
  NODE_ERROR_MESSAGE,
  RESUME_VALUE,
  UNICODE_USER_TEXT,
  openSaver,
  writeLangGraphFixtures,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { computeThreadRollups, type LineageBounds } from '../../src/replay/replay.rollups';
import { decodeEncodedValue, type DecodedValue } from '../../src/replay/checkpoint.decoder';
import { CheckpointBlobStore, CheckpointWriteStore, type CheckpointRow } from '../../src/replay/checkpoint.rows';
import { messagesPrefix, transformCheckpointWindow, type ReplayStep } from '../../src/replay/replay.transformer';
import { loadNamespaces, loadThreadRows } from './checkpoint-rows';
import { compareWithLangGraph, messagesOf, stepsAt, type ComparedThread } from './langgraph-comparison';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const SCENARIOS = FIXTURE_NAMES.filter((name) => name !== 'longThread');

let database: TestDatabase;
/** On an embedded PGlite (a single backend session) LangGraph's saver must keep to one connection. */
const saverOptions = () => ({ singleConnection: !database.external });
let client: Client;
let threads: Record<FixtureName, string>;
const compared = new Map<string, ComparedThread>();

/** The comparison of one scenario's root namespace (computed once, shared by the scenario's tests). */
async function scenario(name: FixtureName): Promise<ComparedThread> {
  const cached = compared.get(name);
  if (cached !== undefined) return cached;
  const result = await compareWithLangGraph(client, database.url, name, threads[name], '', saverOptions());
  compared.set(name, result);
  return result;
}

const summary = (steps: readonly ReplayStep[]) => steps.map((step) => `${step.type}:${step.node ?? '-'}`);

beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
  ({ threads } = await writeLangGraphFixtures(database.url, { only: SCENARIOS, ...saverOptions() }));
  client = new Client({ connectionString: database.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

describe('replay transformer against LangGraph getStateHistory()', () => {
  test.each(SCENARIOS)('%s: every checkpoint agrees with LangGraph', async (name) => {
    const { steps } = await scenario(name);
    expect(steps.length).toBeGreaterThan(0);
  });

  test('plain chat over two turns', async () => {
    const { steps } = await scenario('plainChat');
    expect(summary(steps)).toEqual([
      'USER_MESSAGE:__start__',
      'ASSISTANT_MESSAGE:agent',
      'USER_MESSAGE:__start__',
      'ASSISTANT_MESSAGE:agent',
    ]);
    expect(steps.map((step) => step.content)).toEqual([
      "Hi, I'm Ada.",
      "Hello Ada! I'm a scripted assistant.",
      "What's my name?",
      'Your name is Ada.',
    ]);
    expect(steps[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  test('tool call with its result, linked by tool_call_id', async () => {
    const { steps } = await scenario('toolCalls');
    expect(summary(steps)).toEqual([
      'USER_MESSAGE:__start__',
      'ASSISTANT_MESSAGE:agent',
      'TOOL_CALL:agent',
      'TOOL_RESULT:tools',
      'ASSISTANT_MESSAGE:agent',
    ]);
    const [call, result] = [steps[2] as ReplayStep, steps[3] as ReplayStep];
    expect(call).toMatchObject({ toolName: 'get_weather', toolCallId: 'call_weather_paris', params: { city: 'Paris' } });
    expect(result).toMatchObject({
      toolName: 'get_weather',
      toolCallId: 'call_weather_paris',
      params: { city: 'Paris' },
      status: 'success',
      content: 'Weather in Paris: 18°C, sunny',
    });
    expect(call.checkpointId).not.toBe(result.checkpointId);
  });

  test('a tool that throws gives a TOOL_RESULT with status error', async () => {
    const { steps } = await scenario('toolError');
    const result = steps.find((step) => step.type === 'TOOL_RESULT');
    expect(result).toMatchObject({ status: 'error', toolName: 'convert_currency', toolCallId: 'call_convert_xyz' });
    expect(result?.content).toContain('Unknown currency code "XYZ"');
  });

  test.each(['parallelToolNode', 'parallelSend'] as const)('%s: parallel tool calls share one checkpoint and duration', async (name) => {
    const { steps } = await scenario(name);
    const results = steps.filter((step) => step.type === 'TOOL_RESULT');
    expect(results.map((step) => step.toolCallId).sort()).toEqual([`call_${name}_paris`, `call_${name}_tokyo`]);
    expect(new Set(results.map((step) => step.checkpointId)).size).toBe(1);
    expect(new Set(results.map((step) => step.durationMs)).size).toBe(1);
    expect(results.every((step) => step.node === 'tools')).toBe(true);
    // A plain ToolNode runs both calls in one task; createReactAgent v2 sends each call to its own task.
    expect(new Set(results.map((step) => step.taskId)).size).toBe(name === 'parallelSend' ? 2 : 1);
  });

  test('an interrupt resumed with Command({resume})', async () => {
    const { steps, snapshots } = await scenario('interruptResume');
    expect(summary(steps)).toEqual([
      'USER_MESSAGE:__start__',
      'TOOL_CALL:agent',
      'INTERRUPT:tools',
      'RESUME:tools',
      'TOOL_RESULT:tools',
      'ASSISTANT_MESSAGE:agent',
    ]);
    const interrupt = steps[2] as ReplayStep;
    const resume = steps[3] as ReplayStep;
    const pausedAt = snapshots.find((snapshot) => snapshot.tasks.some((task) => task.interrupts.length > 0));
    const pausedTask = pausedAt?.tasks[0];
    expect(interrupt).toMatchObject({
      params: INTERRUPT_VALUE,
      checkpointId: pausedAt?.config.configurable?.checkpoint_id,
      taskId: pausedTask?.id,
      interruptId: pausedTask?.interrupts[0]?.id,
      durationMs: null,
    });
    expect(resume).toMatchObject({
      params: RESUME_VALUE,
      checkpointId: interrupt.checkpointId,
      taskId: interrupt.taskId,
      interruptId: interrupt.interruptId,
      durationMs: null,
    });
    // LangGraph's checkpointer holds the raw Command.resume value under the null task.
    const saver = openSaver(database.url, saverOptions());
    try {
      const tuple = await saver.getTuple({
        configurable: { thread_id: threads.interruptResume, checkpoint_ns: '', checkpoint_id: interrupt.checkpointId },
      });
      const resumeWrites = (tuple?.pendingWrites ?? []).filter(([, channel]) => channel === '__resume__');
      expect(resumeWrites).toContainEqual(['00000000-0000-0000-0000-000000000000', '__resume__', RESUME_VALUE]);
      expect(resumeWrites).toContainEqual([interrupt.taskId, '__resume__', [RESUME_VALUE]]);
    } finally {
      await saver.end();
    }
    expect(computeThreadRollups(steps, lineageBounds(snapshots)).status).toBe('IDLE');
  });

  test('an interrupt left unanswered makes the thread INTERRUPTED', async () => {
    const { steps, snapshots } = await scenario('interruptPending');
    expect(summary(steps).at(-1)).toBe('INTERRUPT:tools');
    const rollups = computeThreadRollups(steps, lineageBounds(snapshots));
    const waiting = snapshots.at(-1)?.tasks[0];
    expect(rollups.status).toBe('INTERRUPTED');
    expect(rollups.pendingInterrupt).toEqual({
      checkpointId: snapshots.at(-1)?.config.configurable?.checkpoint_id,
      interrupts: [{ interruptId: waiting?.interrupts[0]?.id, value: INTERRUPT_VALUE, node: 'tools', taskId: waiting?.id }],
    });
  });

  test('an unhandled error in a node', async () => {
    const { steps, snapshots } = await scenario('nodeError');
    expect(summary(steps)).toEqual(['USER_MESSAGE:__start__', 'ASSISTANT_MESSAGE:agent', 'ERROR:save_report']);
    expect(steps[2]).toMatchObject({
      content: NODE_ERROR_MESSAGE,
      status: 'error',
      result: { name: 'Error', message: NODE_ERROR_MESSAGE },
    });
    const rollups = computeThreadRollups(steps, lineageBounds(snapshots));
    expect(rollups.status).toBe('ERROR');
    expect(rollups.lastError).toMatchObject({ node: 'save_report', name: 'Error', message: NODE_ERROR_MESSAGE });
  });

  test('graph.updateState() gives a STATE_UPDATE followed by the added message', async () => {
    const { steps, snapshots } = await scenario('updateState');
    const update = snapshots.find((snapshot) => snapshot.metadata?.source === 'update');
    const atUpdate = stepsAt(steps, update as (typeof snapshots)[number]);
    expect(atUpdate.map((step) => step.type)).toEqual(['STATE_UPDATE', 'ASSISTANT_MESSAGE']);
    expect(atUpdate[0]?.params).toEqual({
      asNode: null,
      changedChannels: ['messages'],
      addedMessageIds: ['operator-note-1'],
      removedMessageIds: [],
    });
    expect(atUpdate[1]).toMatchObject({ messageId: 'operator-note-1', content: 'Operator: refund of $12 approved.' });
    expect(summary(steps).slice(-2)).toEqual(['USER_MESSAGE:__start__', 'ASSISTANT_MESSAGE:agent']);
  });

  test('reasoning in every encoding, with reasoning token counts', async () => {
    const { steps } = await scenario('reasoning');
    const reasoning = steps.filter((step) => step.type === 'REASONING');
    expect(reasoning.map((step) => [step.reasoning, step.tokens?.reasoning, step.model])).toEqual([
      ['The user wants a prime. 7 is prime.', 18, 'fake-claude-thinking'],
      ['11 is the next prime after 7.', 12, 'fake-gpt-test'],
      ['Primes after 11: 13.', 9, 'fake-deepseek-reasoner'],
      ['Skip 15 (3×5).\n\n17 is prime.', 30, 'fake-o4-mini'],
    ]);
    expect(steps.filter((step) => step.type === 'ASSISTANT_MESSAGE').map((step) => step.content)).toEqual([
      'A prime number: 7.',
      'The next one is 11.',
      'Thirteen.',
      'Seventeen.',
    ]);
    const rollups = computeThreadRollups(steps, null);
    expect(rollups).toMatchObject({ reasoningTokens: 69, inputTokens: 200, outputTokens: 90, totalTokens: 290 });
    expect(rollups.models).toEqual(['fake-claude-thinking', 'fake-gpt-test', 'fake-deepseek-reasoner', 'fake-o4-mini']);
  });

  test('a subgraph writes its own namespace, which replays on its own', async () => {
    const root = await scenario('subgraph');
    const namespaces = await loadNamespaces(client, threads.subgraph);
    const researchTask = root.snapshots.flatMap((snapshot) => snapshot.tasks).find((task) => task.name === 'research');
    expect(namespaces).toEqual(['', `research:${researchTask?.id}`]);
    const inner = await compareWithLangGraph(client, database.url, 'subgraph', threads.subgraph, namespaces[1], saverOptions());
    expect(summary(inner.steps)).toEqual(['USER_MESSAGE:__start__', 'TOOL_CALL:agent', 'TOOL_RESULT:tools', 'ASSISTANT_MESSAGE:agent']);
    // In the root namespace the research task delivers the subgraph's messages in one superstep.
    expect(summary(root.steps)).toEqual([
      'USER_MESSAGE:__start__',
      'TOOL_CALL:research',
      'TOOL_RESULT:research',
      'ASSISTANT_MESSAGE:research',
      'ASSISTANT_MESSAGE:writer',
    ]);
    expect(new Set(root.steps.slice(1, 4).map((step) => step.taskId))).toEqual(new Set([researchTask?.id]));
    expect(inner.steps.every((step) => step.namespace === namespaces[1])).toBe(true);
    const innerRows = await loadThreadRows(client, threads.subgraph, namespaces[1]);
    expect(innerRows.checkpoints.every((row) => (row.metadata as { parents: Record<string, string> }).parents[''] !== undefined)).toBe(
      true,
    );
  });

  test('unicode (emoji, CJK, RTL) and a 50 KB message survive byte for byte', async () => {
    const { steps, snapshots } = await scenario('unicode');
    expect(steps[0]?.content).toBe(UNICODE_USER_TEXT);
    expect(steps.find((step) => step.type === 'TOOL_CALL')?.params).toEqual({ text: 'こんにちは世界 🌏', target: 'ar' });
    const answer = steps.at(-1);
    expect(answer?.content).toBe(LARGE_UNICODE_TEXT);
    expect(Buffer.byteLength(answer?.content ?? '', 'utf8')).toBeGreaterThanOrEqual(50 * 1024);
    expect(answer?.content).toBe(messagesOf(snapshots.at(-1)).at(-1)?.text);
  });

  test('rollups: title is the first user message, cut to length', async () => {
    const { steps, snapshots } = await scenario('unicode');
    const rollups = computeThreadRollups(steps, lineageBounds(snapshots), { titleLength: 12 });
    expect(rollups.title).toBe('Salut 👋🏽 你好，…');
    expect(rollups).toMatchObject({ stepCount: steps.length, inputTokens: 541, outputTokens: 12_012, status: 'IDLE' });
    expect(rollups.lastActivityAt).toBe(snapshots.at(-1)?.createdAt);
    expect(rollups.firstActivityAt).toBe(snapshots[0]?.createdAt);
  });
});

/** The lineage bounds of a thread, as LangGraph reports them. */
function lineageBounds(snapshots: ComparedThread['snapshots']): LineageBounds {
  const ref = (snapshot: ComparedThread['snapshots'][number] | undefined) => ({
    checkpointId: snapshot?.config.configurable?.checkpoint_id as string,
    timestamp: snapshot?.createdAt as string,
  });
  return { first: ref(snapshots[0]), last: ref(snapshots.at(-1)) };
}

describe('lists served as prefixes of a newer list', () => {
  const message = (className: string, id: string, content: string) =>
    ({ lc: 1, type: 'constructor', id: ['langchain_core', 'messages', className], kwargs: { content, id } }) as const;
  const lists = [
    [message('HumanMessage', 'h1', 'hi')],
    [message('HumanMessage', 'h1', 'hi'), message('AIMessage', 'a1', 'hello')],
    // The appended message repeats the id of an older one: it is not new, as when each list is decoded on its own.
    [message('HumanMessage', 'h1', 'hi'), message('AIMessage', 'a1', 'hello'), message('HumanMessage', 'h1', 'again')],
    [
      message('HumanMessage', 'h1', 'hi'),
      message('AIMessage', 'a1', 'hello'),
      message('HumanMessage', 'h1', 'again'),
      message('HumanMessage', 'h2', 'new'),
    ],
  ];
  const checkpoints: CheckpointRow[] = lists.map((_, index) => ({
    checkpointNs: '',
    checkpointId: `1f0-${index}`,
    parentCheckpointId: index === 0 ? null : `1f0-${index - 1}`,
    checkpoint: {
      v: 4,
      id: `1f0-${index}`,
      ts: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
      channel_versions: { messages: index + 1 },
      versions_seen: {},
    },
    metadata: { source: 'loop', step: index, parents: {} },
  }));
  const blobRows = lists.map((list, index) => ({
    channel: 'messages',
    version: String(index + 1),
    type: 'json',
    blob: Buffer.from(JSON.stringify(list)),
  }));

  test('give the same steps as lists decoded on their own', () => {
    const own = transformCheckpointWindow({
      checkpoints: checkpoints.slice(1),
      parentOfFirst: checkpoints[0]!,
      blobs: new CheckpointBlobStore(blobRows),
      writes: new CheckpointWriteStore(),
      stepsBefore: 1,
    });
    // Every older list served as the first messages of the newest one, decoded once.
    const newest = decodeEncodedValue(blobRows.at(-1)!) as DecodedValue[];
    const served = new CheckpointBlobStore(blobRows, (value) => {
      const index = blobRows.findIndex((row) => row.blob === value.blob);
      return index === blobRows.length - 1 ? newest : messagesPrefix(newest, lists[index]!.length);
    });
    const prefixed = transformCheckpointWindow({
      checkpoints: checkpoints.slice(1),
      parentOfFirst: checkpoints[0]!,
      blobs: served,
      writes: new CheckpointWriteStore(),
      stepsBefore: 1,
    });
    expect(prefixed).toEqual(own);
    expect(own.map((step) => `${step.type}:${step.messageId}:${step.content}`)).toEqual([
      'ASSISTANT_MESSAGE:a1:hello',
      'USER_MESSAGE:h2:new',
    ]);
  });
});
