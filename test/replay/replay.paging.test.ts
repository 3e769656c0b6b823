import { Client } from 'pg';
import {
  LONG_THREAD_TURNS,
  STEPS_PER_LONG_TURN,
  extendLangGraphFixture,
  getLangGraphHistory,
  writeLangGraphFixtures,
  type FixtureName,
} from '../fixtures/langgraph/langgraph.fixtures';
import { decodeEncodedValue, type EncodedValue } from '../../src/replay/checkpoint.decoder';
import {
  CheckpointBlobStore,
  CheckpointWriteStore,
  orderCheckpointLineage,
  readCheckpointHeader,
  type CheckpointRow,
} from '../../src/replay/checkpoint.rows';
import { blobKeysForWindow, transformCheckpointWindow, transformThread, type ReplayStep } from '../../src/replay/replay.transformer';
import {
  indexCheckpointWindow,
  planStepWindow,
  selectStepPage,
  spliceStepIndex,
  type StepIndexEntry,
  type StepWindowRequest,
} from '../../src/replay/replay.step-index';
import { computeThreadRollups, rollupsFromStepIndex, titleFromSteps } from '../../src/replay/replay.rollups';
import { loadBlobs, loadCheckpointHeaders, loadThreadRows, loadWrites } from './checkpoint-rows';
import { compareWithLangGraph, messagesOf } from './langgraph-comparison';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const SCENARIOS: FixtureName[] = ['longThread', 'interruptPending'];

let database: TestDatabase;
/** On an embedded PGlite (a single backend session) LangGraph's saver must keep to one connection. */
const saverOptions = () => ({ singleConnection: !database.external });
let client: Client;
let threads: Record<FixtureName, string>;

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

/** Everything known about a thread when all of its rows are loaded. */
interface FullThread {
  lineage: CheckpointRow[];
  steps: ReplayStep[];
  index: StepIndexEntry[];
  /** Bytes of all `messages` blobs of the thread. */
  messageBytes: number;
}

async function loadFullThread(threadId: string): Promise<FullThread> {
  const rows = await loadThreadRows(client, threadId);
  const lineage = orderCheckpointLineage(rows.checkpoints);
  const blobs = new CheckpointBlobStore(rows.blobs);
  const writes = new CheckpointWriteStore(rows.writes);
  const steps = transformThread({ checkpoints: rows.checkpoints, blobs, writes });
  // Same stores: decoded blobs are cached, so indexing re-uses them.
  const index = indexCheckpointWindow({ checkpoints: lineage, parentOfFirst: null, blobs, writes, stepsBefore: 0 });
  const messageBytes = rows.blobs
    .filter((blob) => blob.channel === 'messages')
    .reduce((sum, blob) => sum + (blob.blob?.byteLength ?? 0), 0);
  return { lineage, steps, index, messageBytes };
}

/** Serves one page the way the GraphQL layer will: index → plan → load only the window's rows → transform → slice. */
async function servePage(threadId: string, index: readonly StepIndexEntry[], request: StepWindowRequest) {
  const plan = planStepWindow(index, request);
  const wanted = plan.parentCheckpointId === null ? plan.checkpointIds : [plan.parentCheckpointId, ...plan.checkpointIds];
  const headers = await loadCheckpointHeadersById(threadId, wanted);
  const parent = plan.parentCheckpointId === null ? null : (headers.get(plan.parentCheckpointId) as CheckpointRow);
  const window = plan.checkpointIds.map((id) => headers.get(id) as CheckpointRow);
  const keys = blobKeysForWindow(window, parent);
  const blobRows = await loadBlobs(client, threadId, '', keys.messageBlobs, keys.triggerBlobTypes);
  const decoded: EncodedValue[] = [];
  const blobs = new CheckpointBlobStore(blobRows, (value) => {
    decoded.push(value);
    return decodeEncodedValue(value);
  });
  const writes = new CheckpointWriteStore(await loadWrites(client, threadId, '', keys.writeCheckpointIds));
  const windowSteps = transformCheckpointWindow({
    checkpoints: window,
    parentOfFirst: parent,
    blobs,
    writes,
    stepsBefore: plan.stepsBefore,
  });
  const distinctMessageVersions = new Set(
    [parent, ...window].flatMap((row) => (row === null ? [] : [readCheckpointHeader(row).channelVersions.messages])),
  );
  return {
    plan,
    page: selectStepPage(windowSteps, request, plan),
    decodes: decoded.length,
    decodedBytes: decoded.reduce((sum, value) => sum + (value.blob?.byteLength ?? 0), 0),
    distinctMessageVersions: distinctMessageVersions.size,
  };
}

async function loadCheckpointHeadersById(threadId: string, ids: readonly string[]): Promise<Map<string, CheckpointRow>> {
  const result = await client.query<CheckpointRow>(
    `SELECT thread_id AS "threadId", checkpoint_ns AS "checkpointNs", checkpoint_id AS "checkpointId",
            parent_checkpoint_id AS "parentCheckpointId", checkpoint, metadata
       FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint_id = ANY($2::text[])`,
    [threadId, ids],
  );
  return new Map(result.rows.map((row) => [row.checkpointId, row]));
}

/** The page a request selects out of all steps, computed the naive way. */
function referencePage(all: readonly ReplayStep[], request: StepWindowRequest) {
  const types = request.types !== undefined && request.types.length > 0 ? new Set(request.types) : undefined;
  const matching = all.filter((step) => types === undefined || types.has(step.type));
  let page = matching.filter(
    (step) =>
      (request.after === undefined || step.ordinal > request.after) && (request.before === undefined || step.ordinal < request.before),
  );
  if (request.first !== undefined) page = page.slice(0, request.first);
  if (request.last !== undefined) page = page.slice(Math.max(0, page.length - request.last));
  const firstOrdinal = page[0]?.ordinal;
  const lastOrdinal = page.at(-1)?.ordinal;
  return {
    steps: page,
    hasNextPage: lastOrdinal !== undefined && matching.some((step) => step.ordinal > lastOrdinal),
    hasPreviousPage: firstOrdinal !== undefined && matching.some((step) => step.ordinal < firstOrdinal),
  };
}

describe('paging a long thread without loading it', () => {
  let full: FullThread;
  let snapshots: Awaited<ReturnType<typeof compareWithLangGraph>>['snapshots'] = [];

  beforeAll(async () => {
    full = await loadFullThread(threads.longThread);
  });

  test('the long thread agrees with LangGraph getStateHistory()', async () => {
    const compared = await compareWithLangGraph(client, database.url, 'longThread', threads.longThread, '', saverOptions());
    snapshots = compared.snapshots;
    const { steps } = compared;
    expect(steps).toEqual(full.steps);
    expect(steps).toHaveLength(LONG_THREAD_TURNS * STEPS_PER_LONG_TURN);
    expect(steps.length).toBeGreaterThanOrEqual(200);
  });

  test('the step index matches the steps checkpoint by checkpoint', () => {
    expect(full.index.map((entry) => entry.checkpointId)).toEqual(full.lineage.map((row) => row.checkpointId));
    for (const entry of full.index) {
      const own = full.steps.filter((step) => step.checkpointId === entry.checkpointId);
      expect(own.map((step) => step.ordinal)).toEqual(own.map((_, offset) => entry.stepsBefore + offset + 1));
      expect(entry.stepCount).toBe(own.length);
    }
    const last = full.index.at(-1) as StepIndexEntry;
    expect(last.stepsBefore + last.stepCount).toBe(full.steps.length);
  });

  test('a late window equals the full transform sliced, decoding only its own blobs', async () => {
    const request = { after: full.steps.length - 40, first: 15 };
    const served = await servePage(threads.longThread, full.index, request);
    expect(served.page.steps).toEqual(full.steps.filter((step) => step.ordinal > request.after).slice(0, 15));
    expect(served.page).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    // One decode per distinct `messages` version in the window and its parent, nothing else.
    expect(served.decodes).toBe(served.distinctMessageVersions);
    expect(served.decodes).toBeLessThanOrEqual(served.plan.checkpointIds.length + 1);
    expect(served.decodes).toBeLessThan(full.lineage.length / 5);
    expect(served.decodedBytes).toBeLessThan(full.messageBytes / 5);
  });

  test.each<StepWindowRequest>([
    { first: 10 },
    { first: 10, after: 100 },
    { last: 7 },
    { last: 5, before: 50 },
    { first: 20, after: 10, before: 25 },
    { first: 8, after: 30, types: ['TOOL_CALL'] },
    { last: 3, before: 200, types: ['USER_MESSAGE', 'ASSISTANT_MESSAGE'] },
    { first: 4, types: ['TOOL_RESULT'] },
    { first: 5, after: LONG_THREAD_TURNS * STEPS_PER_LONG_TURN },
    { last: 5, before: 1 },
    { first: 1000 },
  ])('page %j equals the same page cut from all steps', async (request) => {
    const served = await servePage(threads.longThread, full.index, request);
    const expected = referencePage(full.steps, request);
    expect(served.page.steps).toEqual(expected.steps);
    if (expected.steps.length > 0) {
      expect({ next: served.page.hasNextPage, previous: served.page.hasPreviousPage }).toEqual({
        next: expected.hasNextPage,
        previous: expected.hasPreviousPage,
      });
    }
    expect(served.decodes).toBeLessThanOrEqual(served.plan.checkpointIds.length + 1);
  });

  test('rollups from the step index equal rollups from all steps and LangGraph token counts', async () => {
    const last = full.index.at(-1) as StepIndexEntry;
    const lastSteps = full.steps.filter((step) => step.checkpointId === last.checkpointId);
    const fromIndex = rollupsFromStepIndex(full.index, lastSteps, titleFromSteps(full.steps));
    const first = full.index[0] as StepIndexEntry;
    const fromSteps = computeThreadRollups(full.steps, {
      first: { checkpointId: first.checkpointId, timestamp: first.timestamp },
      last: { checkpointId: last.checkpointId, timestamp: last.timestamp },
    });
    expect(fromIndex).toEqual(fromSteps);

    // LangGraph's history from the first test, or read again when this test runs alone.
    const history =
      snapshots.length > 0
        ? snapshots
        : (await getLangGraphHistory(database.url, 'longThread', threads.longThread, '', saverOptions())).reverse();
    const newest = history.at(-1);
    const usage = messagesOf(newest).flatMap((message) => {
      const metadata = (message as { usage_metadata?: { input_tokens: number; output_tokens: number } }).usage_metadata;
      return metadata === undefined ? [] : [metadata];
    });
    expect(fromSteps).toMatchObject({
      stepCount: LONG_THREAD_TURNS * STEPS_PER_LONG_TURN,
      inputTokens: usage.reduce((sum, item) => sum + item.input_tokens, 0),
      outputTokens: usage.reduce((sum, item) => sum + item.output_tokens, 0),
      models: ['fake-gpt-test'],
      title: 'Question 1: look up k1.',
      status: 'IDLE',
      lastActivityAt: newest?.createdAt,
    });
  });
});

describe('keeping the step index incrementally', () => {
  /** What a sync job does: re-index from the previously newest checkpoint (inclusive) to the new head, then splice. */
  async function syncIndex(threadId: string, previous: readonly StepIndexEntry[]) {
    const headers = orderCheckpointLineage(await loadCheckpointHeaders(client, threadId));
    const previousHead = previous.at(-1) as StepIndexEntry;
    const from = headers.findIndex((row) => row.checkpointId === previousHead.checkpointId);
    const window = headers.slice(from);
    const parent = from > 0 ? (headers[from - 1] as CheckpointRow) : null;
    const keys = blobKeysForWindow(window, parent);
    let decodes = 0;
    const blobs = new CheckpointBlobStore(await loadBlobs(client, threadId, '', keys.messageBlobs, keys.triggerBlobTypes), (value) => {
      decodes += 1;
      return decodeEncodedValue(value);
    });
    const writes = new CheckpointWriteStore(await loadWrites(client, threadId, '', keys.writeCheckpointIds));
    const entries = indexCheckpointWindow({
      checkpoints: window,
      parentOfFirst: parent,
      blobs,
      writes,
      stepsBefore: previousHead.stepsBefore,
    });
    return { index: spliceStepIndex(previous, entries), decodes, windowLength: window.length };
  }

  test('new turns appended by LangGraph are indexed by decoding only the new checkpoints', async () => {
    const before = await loadFullThread(threads.longThread);
    await extendLangGraphFixture(database.url, 'longThread', threads.longThread, 2, saverOptions());
    const synced = await syncIndex(threads.longThread, before.index);
    const after = await loadFullThread(threads.longThread);
    expect(synced.index).toEqual(after.index);
    expect(after.steps).toHaveLength(before.steps.length + 2 * STEPS_PER_LONG_TURN);
    expect(synced.decodes).toBeLessThanOrEqual(synced.windowLength + 1);
    expect(synced.decodes).toBeLessThan(20);
  });

  test('a resume changes the step count of the previously newest checkpoint, and the sync catches it', async () => {
    const before = await loadFullThread(threads.interruptPending);
    const pausedAt = before.index.at(-1) as StepIndexEntry;
    // The AI message asking for the tool arrives at the checkpoint the paused task then runs from.
    expect(pausedAt.typeCounts).toEqual({ TOOL_CALL: 1, INTERRUPT: 1 });
    const pausedSteps = before.steps.filter((step) => step.checkpointId === pausedAt.checkpointId);
    expect(rollupsFromStepIndex(before.index, pausedSteps, titleFromSteps(before.steps)).status).toBe('INTERRUPTED');

    await extendLangGraphFixture(database.url, 'interruptPending', threads.interruptPending, 0, saverOptions());
    const synced = await syncIndex(threads.interruptPending, before.index);
    const after = await loadFullThread(threads.interruptPending);
    expect(synced.index).toEqual(after.index);
    expect(synced.index.find((entry) => entry.checkpointId === pausedAt.checkpointId)?.typeCounts).toEqual({
      TOOL_CALL: 1,
      INTERRUPT: 1,
      RESUME: 1,
    });
    const head = after.index.at(-1) as StepIndexEntry;
    const headSteps = after.steps.filter((step) => step.checkpointId === head.checkpointId);
    expect(rollupsFromStepIndex(after.index, headSteps, titleFromSteps(after.steps))).toMatchObject({
      status: 'IDLE',
      pendingInterrupt: null,
    });
  });

  test('splicing refuses an index that does not connect', () => {
    const entry: StepIndexEntry = {
      checkpointId: 'b',
      parentCheckpointId: 'x',
      timestamp: '2026-01-01T00:00:00.000Z',
      stepsBefore: 0,
      stepCount: 1,
      typeCounts: { USER_MESSAGE: 1 },
      tokens: { input: 0, output: 0, reasoning: 0, total: 0 },
      models: [],
    };
    expect(() => spliceStepIndex([{ ...entry, checkpointId: 'a', parentCheckpointId: null }], [entry])).toThrow(
      /expected checkpoint b to be in the index or to follow its last entry a, but its parent is x/,
    );
  });
});
