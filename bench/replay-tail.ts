// replayTail's delivery latency (run with `--only subscriptions`, on the same server): LangGraph's own PostgresSaver
// writes a thread of the benchmark's tenant, one checkpoint (one new assistant message) every 100 ms; a dashboard
// subscribed to conversationChanged learns of the new thread, then follows it with replayTail. Reported: latency from
// the writer's clock before `put` to the client's receipt of the step, steps lost or repeated.
import { randomUUID } from 'node:crypto';
import { emptyCheckpoint, type Checkpoint } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { createClient } from 'graphql-ws/client';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { nextCheckpointId } from './checkpoint-trigger';
import type { BenchDatabase, Fixtures } from './dataset';
import type { ServerProcess } from './processes';

const STEPS = 100;
const INTERVAL_MS = 100;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const message = (content: string) => ({
  lc: 1,
  type: 'constructor',
  id: ['langchain_core', 'messages', 'AIMessage'],
  kwargs: { content, id: randomUUID(), tool_calls: [], invalid_tool_calls: [], additional_kwargs: {}, response_metadata: {} },
});

/** Runs the scenario against a started server (its conversation subscribers make it sync the new thread at once). */
export async function runReplayTail(server: ServerProcess, database: BenchDatabase, fixtures: Fixtures, log: (line: string) => void) {
  const pool = new Pool({ connectionString: database.url, max: 1 });
  const saver = new PostgresSaver(pool);
  const threadId = `bench-tail-${randomUUID()}`;
  const client = createClient({
    url: server.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${fixtures.apiKey}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
  });
  try {
    await saver.setup();
    let resolveConversation: (id: string) => void = () => undefined;
    const conversation = new Promise<string>((resolve) => (resolveConversation = resolve));
    client.subscribe(
      { query: 'subscription { conversationChanged { conversation { id threadId } } }' },
      {
        next: (result) => {
          const changed = (result.data as { conversationChanged?: { conversation: { id: string; threadId: string } } } | null)
            ?.conversationChanged;
          if (changed?.conversation.threadId === threadId) resolveConversation(changed.conversation.id);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    let config = { configurable: { thread_id: threadId, checkpoint_ns: '' } };
    const messages: unknown[] = [];
    const write = async (step: number, content: string) => {
      messages.push(message(content));
      const checkpoint: Checkpoint = {
        ...emptyCheckpoint(),
        id: nextCheckpointId(),
        ts: new Date().toISOString(),
        channel_values: { messages: [...messages] },
        channel_versions: { messages: step + 2 },
        versions_seen: {},
      };
      const metadata = { source: step < 0 ? 'input' : 'loop', step, parents: {}, tenant_id: fixtures.tenantId };
      config = (await saver.put(config, checkpoint, metadata as never, { messages: step + 2 })) as typeof config;
    };
    await write(-1, 'hello');
    const id = await Promise.race([
      conversation,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no conversationChanged for the new thread in 30 s')), 30_000)),
    ]);
    const latencies: number[] = [];
    const ordinals = new Map<number, number>();
    client.subscribe(
      { query: 'subscription ($id: ID!) { replayTail(conversationId: $id) { cursor node { ordinal content } } }', variables: { id } },
      {
        next: (result) => {
          const edge = (result.data as { replayTail?: { node: { ordinal: number; content: string | null } } } | null)?.replayTail;
          if (!edge) return;
          ordinals.set(edge.node.ordinal, (ordinals.get(edge.node.ordinal) ?? 0) + 1);
          const sent = Number(edge.node.content?.split(' ')[1]);
          if (edge.node.content?.startsWith('sent ') && Number.isFinite(sent)) latencies.push(Date.now() - sent);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    const started = Date.now();
    for (let step = 0; step < STEPS; step++) {
      await write(step, `sent ${Date.now()}`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (step + 1) * INTERVAL_MS - Date.now())));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    latencies.sort((a, b) => a - b);
    const repeated = [...ordinals.values()].reduce((sum, count) => sum + count - 1, 0);
    log(
      `replayTail: ${STEPS} checkpoints written by LangGraph's saver at ${1000 / INTERVAL_MS}/s, ${latencies.length} steps received live; ` +
        `latency (before put to client) p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms; ` +
        `lost ${STEPS - latencies.length}, repeated ${repeated}`,
    );
  } finally {
    await client.dispose();
    await pool.query(`DELETE FROM checkpoints WHERE thread_id = $1`, [threadId]).catch(() => undefined);
    await pool.query(`DELETE FROM checkpoint_blobs WHERE thread_id = $1`, [threadId]).catch(() => undefined);
    await pool.query(`DELETE FROM conversations WHERE thread_id = $1`, [threadId]).catch(() => undefined);
    await pool.query(`DELETE FROM conversation_step_index WHERE thread_id = $1`, [threadId]).catch(() => undefined);
    await pool.end();
  }
}
