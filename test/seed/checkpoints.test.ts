import { planRuns } from '../../prisma/seed/conversations';
import { checkpointUuid6, uuid5 } from '../../prisma/seed/langgraph';
import { Random } from '../../prisma/seed/random';
import {
  createSeededDatabase,
  decodeBlob,
  readLangGraphRows,
  type CheckpointRow,
  type LangGraphRows,
  type SeededDatabase,
  type SerializedMessage,
} from './seed-helpers';

describe('checkpoint ids', () => {
  it('match ids LangGraph wrote (uuid6 with clock_seq 0x8000 + step, task uuid5s)', () => {
    // Read off rows written by LangGraph.js 1.7 (PostgresSaver); the last 12 digits are random.
    expect(checkpointUuid6(Date.parse('2026-11-22T00:29:14.149Z'), -1, '581b11a5e141')).toBe('1f1e60bb-e926-6550-ffff-581b11a5e141');
    expect(checkpointUuid6(Date.parse('2026-11-22T00:29:14.169Z'), 0, '231161d0f10c')).toBe('1f1e60bb-e957-6290-8000-231161d0f10c');
    const name = JSON.stringify(['agent', '1', 'agent', '__pregel_pull', ['branch:to:agent']]);
    expect(uuid5(name, '1f1e60bb-e957-6290-8000-231161d0f10c')).toBe('91bb0f8a-acc4-59b4-80c4-fda09e4f6172');
    // RFC 4122's DNS namespace example.
    expect(uuid5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('plans long threads of exactly the asked number of steps', () => {
    for (const steps of [3, 5, 6, 7, 8, 41, 100, 999, 1000, 5001]) {
      const runs = planRuns(steps, new Random(`plan:${steps}`));
      expect(runs.reduce((sum, rounds) => sum + 3 + 2 * rounds, 0)).toBe(steps);
    }
    expect(() => planRuns(4, new Random('plan'))).toThrow('Expected long-thread steps of 3 or at least 5, received 4');
  });
});

/** Rows of one (thread, namespace) in chain order, after checking they form one parent chain. */
function chainOf(rows: CheckpointRow[]): CheckpointRow[] {
  const roots = rows.filter((row) => row.parent_checkpoint_id === null);
  expect(roots).toHaveLength(1);
  const children = new Map<string, CheckpointRow>();
  for (const row of rows) {
    if (row.parent_checkpoint_id === null) continue;
    expect(children.has(row.parent_checkpoint_id)).toBe(false); // no forks
    children.set(row.parent_checkpoint_id, row);
  }
  const chain = [roots[0]];
  for (let next = children.get(roots[0].checkpoint_id); next; next = children.get(next.checkpoint_id)) chain.push(next);
  expect(chain).toHaveLength(rows.length);
  return chain;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

describe('seeded LangGraph threads', () => {
  let seeded: SeededDatabase;
  let data: LangGraphRows;

  beforeAll(async () => {
    seeded = await createSeededDatabase();
    data = await readLangGraphRows(seeded.db.url);
  }, 120_000);

  afterAll(async () => {
    await seeded?.db.drop();
  });

  const blobKey = (thread: string, ns: string, channel: string, version: string) => `${thread}\u0000${ns}\u0000${channel}\u0000${version}`;
  const messagesAt = (row: CheckpointRow): SerializedMessage[] => {
    const blob = data.blobs.find(
      (b) =>
        blobKey(b.thread_id, b.checkpoint_ns, b.channel, b.version) ===
        blobKey(row.thread_id, row.checkpoint_ns, 'messages', String(row.checkpoint.channel_versions.messages)),
    );
    return blob ? decodeBlob<SerializedMessage[]>(blob.blob) : [];
  };

  it('form one parent chain per (thread, namespace), ordered by checkpoint_id, with LangGraph v4 fields', () => {
    const groups = groupBy(data.checkpoints, (row) => `${row.thread_id}\u0000${row.checkpoint_ns}`);
    expect(groups.size).toBeGreaterThan(data.conversations.length); // subgraph namespaces too
    for (const rows of groups.values()) {
      const chain = chainOf(rows);
      // rows come ORDER BY checkpoint_id: uuid6 ids sort chronologically.
      expect(chain.map((row) => row.checkpoint_id)).toEqual(rows.map((row) => row.checkpoint_id));
      chain.forEach((row, i) => {
        expect(Object.keys(row.checkpoint).sort()).toEqual(['channel_versions', 'id', 'ts', 'v', 'versions_seen']);
        // `campaign`: the run metadata of some threads (the search benchmark's markers, prisma/seed/search-markers.ts).
        expect(
          Object.keys(row.metadata)
            .filter((key) => key !== 'campaign')
            .sort(),
        ).toEqual(['parents', 'source', 'step', 'tenant_id']);
        expect(row.checkpoint).toMatchObject({ v: 4, id: row.checkpoint_id });
        expect(row.type).toBeNull();
        expect(row.metadata.step).toBe(i - 1);
        expect(row.checkpoint_id.slice(19, 23)).toBe(i === 0 ? 'ffff' : (0x8000 + i - 1).toString(16));
        if (i > 0) expect(Date.parse(row.checkpoint.ts)).toBeGreaterThan(Date.parse(chain[i - 1].checkpoint.ts));
        expect(['input', 'loop']).toContain(row.metadata.source);
      });
    }
  });

  it('store a blob for every channel version a checkpoint references, and writes only under checkpoints', () => {
    const blobs = new Set(data.blobs.map((b) => blobKey(b.thread_id, b.checkpoint_ns, b.channel, b.version)));
    const missing = data.checkpoints.flatMap((row) =>
      Object.entries(row.checkpoint.channel_versions)
        .map(([channel, version]) => blobKey(row.thread_id, row.checkpoint_ns, channel, String(version)))
        .filter((key) => !blobs.has(key)),
    );
    expect(missing).toEqual([]);
    for (const blob of data.blobs) expect(blob.type === 'empty' ? blob.blob === null : blob.type === 'json').toBe(true);
    const checkpoints = new Set(data.checkpoints.map((row) => `${row.thread_id}\u0000${row.checkpoint_ns}\u0000${row.checkpoint_id}`));
    for (const write of data.writes) {
      expect(checkpoints.has(`${write.thread_id}\u0000${write.checkpoint_ns}\u0000${write.checkpoint_id}`)).toBe(true);
      expect(write.type).toBe('json');
      expect(() => decodeBlob(write.blob)).not.toThrow();
    }
  });

  it('keep whole LangChain message lists with unique ids in every messages blob', () => {
    for (const blob of data.blobs.filter((b) => b.channel === 'messages')) {
      const messages = decodeBlob<SerializedMessage[]>(blob.blob);
      for (const message of messages) {
        expect(message).toMatchObject({ lc: 1, type: 'constructor' });
        expect(message.id.slice(0, 2)).toEqual(['langchain_core', 'messages']);
        expect(['HumanMessage', 'AIMessage', 'ToolMessage', 'SystemMessage']).toContain(message.id[2]);
        expect(typeof message.kwargs.id).toBe('string');
      }
      expect(new Set(messages.map((m) => m.kwargs.id)).size).toBe(messages.length);
    }
  });

  it('attribute every thread to its tenant and cover the features replay must handle', () => {
    const byThread = groupBy(data.checkpoints, (row) => row.thread_id);
    for (const conversation of data.conversations) {
      const rows = byThread.get(conversation.thread_id) ?? [];
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((row) => row.metadata.tenant_id))).toEqual(new Set([conversation.tenant_id]));
    }
    expect(byThread.size).toBe(data.conversations.length);

    const messages = data.blobs.filter((b) => b.channel === 'messages').flatMap((b) => decodeBlob<SerializedMessage[]>(b.blob));
    const ai = messages.filter((m) => m.id[2] === 'AIMessage');
    const blocks = ai.flatMap((m) => (Array.isArray(m.kwargs.content) ? (m.kwargs.content as { type: string }[]) : []));
    expect(blocks.some((block) => block.type === 'thinking')).toBe(true);
    expect(blocks.some((block) => block.type === 'reasoning')).toBe(true);
    expect(ai.some((m) => (m.kwargs.tool_calls as unknown[]).length >= 2)).toBe(true);
    expect(ai.some((m) => (m.kwargs.usage_metadata as { output_token_details?: unknown }).output_token_details)).toBe(true);
    expect(messages.some((m) => m.id[2] === 'ToolMessage' && m.kwargs.status === 'error')).toBe(true);
    expect(messages.some((m) => m.id[2] === 'SystemMessage')).toBe(true);

    const channels = new Set(data.writes.map((w) => `${w.channel}:${w.idx}`));
    for (const special of ['__interrupt__:-3', '__resume__:-4', '__error__:-1']) expect(channels).toContain(special);
    const resumes = data.writes.filter((w) => w.channel === '__resume__');
    expect(resumes.some((w) => w.task_id === '00000000-0000-0000-0000-000000000000')).toBe(true);

    const subgraphs = data.checkpoints.filter((row) => row.checkpoint_ns !== '');
    expect(subgraphs.length).toBeGreaterThan(0);
    for (const row of subgraphs) {
      const [node, taskId] = row.checkpoint_ns.split(':');
      expect(node).toBe('research');
      const parent = data.checkpoints.find(
        (p) => p.thread_id === row.thread_id && p.checkpoint_ns === '' && p.checkpoint_id === row.metadata.parents[''],
      );
      expect(parent).toBeDefined();
      // The research task of the parent checkpoint owns the namespace.
      expect(data.writes.some((w) => w.checkpoint_id === parent?.checkpoint_id && w.task_id === taskId)).toBe(true);
    }
  });

  it('roll up each thread into a conversations row consistent with its checkpoints', () => {
    const statuses = new Set<string>();
    for (const conversation of data.conversations) {
      statuses.add(conversation.status);
      const root = data.checkpoints.filter((row) => row.thread_id === conversation.thread_id && row.checkpoint_ns === '');
      const last = root[root.length - 1];
      expect(conversation.step_count).toBe(root.length);
      expect(conversation.last_checkpoint_id).toBe(last.checkpoint_id);
      expect(conversation.created_at.toISOString()).toBe(root[0].checkpoint.ts);
      expect(conversation.last_activity_at.toISOString()).toBe(last.checkpoint.ts);

      const writes = data.writes.filter((w) => w.thread_id === conversation.thread_id && w.checkpoint_id === last.checkpoint_id);
      const error = writes.find((w) => w.channel === '__error__');
      const interrupt = writes.find((w) => w.channel === '__interrupt__');
      const resumed = writes.some((w) => w.channel === '__resume__');
      const status = error ? 'ERROR' : interrupt && !resumed ? 'INTERRUPTED' : 'IDLE';
      expect(conversation.status).toBe(status);
      expect(conversation.last_error).toEqual(error ? decodeBlob(error.blob) : null);
      expect(conversation.pending_interrupt).toEqual(status === 'INTERRUPTED' ? decodeBlob<unknown[]>(interrupt?.blob ?? null)[0] : null);

      const usage = messagesAt(last)
        .filter((m) => m.id[2] === 'AIMessage')
        .map(
          (m) => m.kwargs.usage_metadata as { input_tokens: number; output_tokens: number; output_token_details?: { reasoning: number } },
        );
      expect(Number(conversation.input_tokens)).toBe(usage.reduce((sum, u) => sum + u.input_tokens, 0));
      expect(Number(conversation.output_tokens)).toBe(usage.reduce((sum, u) => sum + u.output_tokens, 0));
      expect(Number(conversation.reasoning_tokens)).toBe(usage.reduce((sum, u) => sum + (u.output_token_details?.reasoning ?? 0), 0));
      expect(Number(conversation.cost_usd)).toBeGreaterThan(0);
      const human = messagesAt(last).find((m) => m.id[2] === 'HumanMessage');
      expect(conversation.title?.replace(/…$/, '')).toBe(
        String(human?.kwargs.content).slice(0, conversation.title?.endsWith('…') ? 79 : undefined),
      );
    }
    expect(statuses).toEqual(new Set(['IDLE', 'INTERRUPTED', 'ERROR']));
    const long = data.conversations.find((c) => c.step_count === 41);
    expect(long?.tenant_id).toBe('acme');
  });
});
