// LangGraph itself reads the seeded threads: the saver, getState(), the history, and a resume.
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { Command, END, MessagesAnnotation, START, StateGraph, interrupt } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { Pool } from 'pg';
import { createSeededDatabase, readLangGraphRows, type ConversationRow, type SeededDatabase } from './seed-helpers';

/** The graph the seed simulates (node names and edges), with stand-in node bodies. */
function seededGraph(saver: PostgresSaver) {
  const research = new StateGraph(MessagesAnnotation)
    .addNode('search', () => ({}))
    .addNode('summarize', () => ({}))
    .addEdge(START, 'search')
    .addEdge('search', 'summarize')
    .addEdge('summarize', END)
    .compile();
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', () => ({ messages: [new AIMessage('Done.')] }))
    .addNode('tools', () => ({}))
    .addNode('approve', (state) => {
      const decision = interrupt('approve?');
      const call = (state.messages.at(-1) as AIMessage).tool_calls?.[0];
      return { messages: [new ToolMessage({ content: JSON.stringify(decision), tool_call_id: call?.id ?? '' })] };
    })
    .addNode('research', research)
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', () => END, ['tools', 'approve', 'research', END])
    .addEdge('tools', 'agent')
    .addEdge('approve', 'agent')
    .addEdge('research', 'agent')
    .compile({ checkpointer: saver });
}

describe('seeded threads read by LangGraph', () => {
  let seeded: SeededDatabase;
  let conversations: ConversationRow[];
  let pool: Pool;
  let graph: ReturnType<typeof seededGraph>;

  beforeAll(async () => {
    seeded = await createSeededDatabase();
    conversations = (await readLangGraphRows(seeded.db.url)).conversations;
    // PGlite serves one session: LangGraph's pool must keep to one connection.
    pool = new Pool({ connectionString: seeded.db.url, max: 1 });
    graph = seededGraph(new PostgresSaver(pool));
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await seeded?.db.drop();
  });

  it('sees the state, pending task, interrupt or error and whole history the conversations row says', async () => {
    for (const conversation of conversations) {
      const config = { configurable: { thread_id: conversation.thread_id } };
      const state = await graph.getState(config);
      let history = 0;
      for await (const snapshot of graph.getStateHistory(config)) history += snapshot ? 1 : 0;
      expect(history).toBe(conversation.step_count);
      expect(state.config.configurable?.checkpoint_id).toBe(conversation.last_checkpoint_id);
      expect(state.metadata).toMatchObject({ tenant_id: conversation.tenant_id });
      if (conversation.status === 'INTERRUPTED') {
        expect(state.next).toEqual(['approve']);
        expect(state.tasks[0].interrupts[0]).toEqual(conversation.pending_interrupt);
      } else if (conversation.status === 'ERROR') {
        expect(state.next).toEqual(['agent']);
        expect(state.tasks[0].error).toMatchObject(conversation.last_error as object);
      } else {
        expect(state.next).toEqual([]);
      }
    }
  });

  it('lists subgraph checkpoints under their research namespace', async () => {
    const rows = await pool.query<{ thread_id: string; checkpoint_ns: string; n: string }>(
      `SELECT thread_id, checkpoint_ns, count(*) AS n FROM checkpoints WHERE checkpoint_ns <> '' GROUP BY 1, 2`,
    );
    expect(rows.rows.length).toBeGreaterThan(0);
    const saver = new PostgresSaver(pool);
    for (const row of rows.rows) {
      const listed = [];
      for await (const tuple of saver.list({ configurable: { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns } })) {
        listed.push(tuple);
      }
      expect(listed).toHaveLength(Number(row.n));
      expect(listed[0].checkpoint.channel_values.messages).toEqual(expect.arrayContaining([expect.any(AIMessage)]));
    }
  });

  it('resumes a pending interrupt and finishes the run', async () => {
    const pending = conversations.find((conversation) => conversation.status === 'INTERRUPTED');
    if (!pending) throw new Error('Expected an INTERRUPTED conversation in the seed');
    const config = { configurable: { thread_id: pending.thread_id } };
    const result = await graph.invoke(new Command({ resume: { approved: true } }), config);
    const [request, answer, done] = result.messages.slice(-3);
    expect((request as AIMessage).tool_calls?.[0]?.name).toBe('issue_refund');
    expect(answer).toBeInstanceOf(ToolMessage);
    expect((answer as ToolMessage).tool_call_id).toBe((request as AIMessage).tool_calls?.[0]?.id);
    expect(done.content).toBe('Done.');
    expect((await graph.getState(config)).next).toEqual([]);
  });
});
