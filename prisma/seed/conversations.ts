// Agent threads in LangGraph's format and their `conversations` rows. The simulated graph:
//   START → agent; agent →(conditional) tools | approve | research | END;
//   tools → agent; approve → agent (approve interrupts for a human decision);
//   research = a compiled subgraph (search → summarize) run as a node, namespace "research:<task id>".
import { MODELS, TOPICS, costUnits, drawVars, fill, formatUsd, systemPrompt, type ModelSpec, type Topic, type Vars } from './content';
import {
  CheckpointThread,
  aiMessage,
  inputMessage,
  toolMessage,
  type CheckpointSink,
  type LcMessage,
  type Task,
  type ToolCall,
} from './langgraph';
import { Random } from './random';
import { CAMPAIGNS, SESSION_MARKERS, conversationMarkers } from './search-markers';
import type { TableSpec } from './writer';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Columns of `conversations` in the order the generated rows list them. */
export const CONVERSATIONS_TABLE: TableSpec = {
  name: 'conversations',
  columns: [
    ['id', 'uuid'],
    ['tenant_id', 'text'],
    ['thread_id', 'text'],
    ['title', 'text'],
    ['status', 'conversation_status'],
    ['created_at', 'timestamptz'],
    ['last_activity_at', 'timestamptz'],
    ['step_count', 'integer'],
    ['input_tokens', 'bigint'],
    ['output_tokens', 'bigint'],
    ['reasoning_tokens', 'bigint'],
    ['cost_usd', 'numeric'],
    ['pending_interrupt', 'jsonb'],
    ['last_error', 'jsonb'],
    ['last_checkpoint_id', 'text'],
    ['metadata', 'jsonb'],
  ],
};

/** What happens in one run (user turn) of a thread. */
type TurnKind = 'answer' | 'tool' | 'parallel' | 'toolError' | 'approval' | 'approvalPending' | 'research' | 'crash';

/** A thread's shape: its turns, and the (reasoning) model it needs, if any. */
interface Scenario {
  readonly name: string;
  readonly turns: (rng: Random) => TurnKind[];
  readonly model?: ModelSpec;
}

const maybe = (rng: Random, kind: TurnKind, p = 0.5): TurnKind[] => (rng.chance(p) ? [kind] : []);

/** Every scenario appears once in a tenant's first conversations; later ones are drawn by weight. */
const SCENARIOS: readonly (readonly [Scenario, number])[] = [
  [{ name: 'tool', turns: (r) => ['tool', ...maybe(r, 'answer')] }, 25],
  [{ name: 'parallel', turns: (r) => [...maybe(r, 'answer', 0.3), 'parallel'] }, 10],
  [{ name: 'approval', turns: (r) => [...maybe(r, 'tool'), 'approval', ...maybe(r, 'answer')] }, 8],
  [{ name: 'research', turns: (r) => ['research', ...maybe(r, 'answer', 0.4)] }, 8],
  [{ name: 'thinking', turns: (r) => ['tool', 'answer', ...maybe(r, 'parallel', 0.3)], model: MODELS.sonnet }, 4],
  [{ name: 'reasoning', turns: (r) => ['tool', ...maybe(r, 'answer')], model: MODELS.haiku }, 3],
  [{ name: 'tool-error', turns: (r) => ['toolError', ...maybe(r, 'answer', 0.3)] }, 8],
  [{ name: 'error', turns: (r) => [r.pick<TurnKind>(['answer', 'tool']), 'crash'] }, 5],
  [{ name: 'approval-pending', turns: (r) => [...maybe(r, 'answer', 0.3), 'approvalPending'] }, 5],
  [{ name: 'qa', turns: (r) => Array.from({ length: r.int(1, 3) }, (): TurnKind => 'answer') }, 25],
];

const REASONING_NOTES: readonly string[] = [
  'The user asks about {order}. I should not guess the status; call the order lookup first.',
  'Two things to check: the customer record for {email} and the order itself. Both lookups are independent, so I can run them in parallel.',
  'The refund of ${amount} is above the auto-approval limit, so a human has to approve it.',
  'The knowledge base says 30 days; the user bought the {product} recently, so the return is allowed.',
  'The tool failed with a timeout. Retry once with the same arguments before apologising.',
];

const RESEARCH_QUESTIONS: readonly string[] = [
  'Can you compare our return policy with what competitors offer?',
  'Summarize the main reasons customers contacted us about the {product} this month.',
  'What changed in the {plan} plan pricing this year, and who is affected?',
  'Research shipping options to {city} and recommend the cheapest reliable carrier.',
];

const CRASHES: readonly { message: string; name: string }[] = [
  { message: 'Upstream model timed out', name: 'TimeoutError' },
  { message: '529 Overloaded: the model provider is temporarily overloaded', name: 'APIError' },
  { message: "Cannot read properties of undefined (reading 'tool_calls')", name: 'TypeError' },
  { message: 'Recursion limit of 25 reached without hitting a stop condition.', name: 'GraphRecursionError' },
];

/** The `conversations` row of a thread, derived from what was written to its checkpoints. */
function conversationRow(id: string, tenantId: string, thread: AgentThread): unknown[] {
  const root = thread.root;
  let input = 0;
  let output = 0;
  let reasoning = 0;
  let units = 0;
  for (const message of root.messages) {
    if (!message.usage || !message.model) continue;
    input += message.usage.input;
    output += message.usage.output;
    reasoning += message.usage.reasoning;
    units += costUnits(modelNamed(message.model), message.usage.input, message.usage.output);
  }
  const firstHuman = root.messages.find((message) => message.type === 'human');
  const text = typeof firstHuman?.content === 'string' ? firstHuman.content : null;
  const title = text === null ? null : text.length > 80 ? `${text.slice(0, 79)}…` : text;
  return [
    id,
    tenantId,
    root.threadId,
    title,
    thread.status,
    new Date(root.first.ts).toISOString(),
    new Date(root.head.ts).toISOString(),
    root.checkpointCount,
    input,
    output,
    reasoning,
    formatUsd(units),
    thread.pendingInterrupt === null ? null : JSON.stringify(thread.pendingInterrupt),
    thread.lastError === null ? null : JSON.stringify(thread.lastError),
    root.head.id,
    // What the sync stores from the root checkpoints' metadata (it reads only checkpoints after last_checkpoint_id).
    JSON.stringify({ tenant_id: tenantId, ...thread.runMetadata }),
  ];
}

function modelNamed(name: string): ModelSpec {
  const model = Object.values(MODELS).find((candidate) => candidate.name === name);
  if (!model) throw new Error(`Expected a model of MODELS, received ${name}`);
  return model;
}

/** One agent thread being written: the root namespace, its clock, and what it ended in. */
class AgentThread {
  readonly root: CheckpointThread;
  status: 'IDLE' | 'INTERRUPTED' | 'ERROR' = 'IDLE';
  pendingInterrupt: { id: string; value: unknown } | null = null;
  lastError: { message: string; name: string } | null = null;
  private clock: number;
  private topic: Topic;
  private vars: Vars;
  private turnCount = 0;

  constructor(
    private readonly sink: CheckpointSink,
    private readonly rng: Random,
    private readonly tenantId: string,
    private readonly tenantName: string,
    private readonly model: ModelSpec,
    start: number,
    /** Keys of the runs' metadata besides tenant_id (LangGraph copies them into every checkpoint's metadata). */
    readonly runMetadata: Readonly<Record<string, unknown>> = {},
    /** A sentence the thread's first user message ends with (the search benchmark's text marker), or ''. */
    private readonly firstMessageSuffix = '',
  ) {
    this.clock = start;
    this.topic = rng.pick(TOPICS);
    this.vars = drawVars(rng, tenantName, start);
    this.root = new CheckpointThread(sink, rng, { threadId: rng.uuid(), metadata: { tenant_id: tenantId, ...runMetadata } });
  }

  /** Plays one run of the given kind (`rounds` sequential tool calls for a 'tool' run). */
  turn(kind: TurnKind, gapMs: number, rounds = 1): void {
    const rng = this.rng;
    if (this.turnCount > 0 && rng.chance(0.3)) {
      this.topic = rng.pick(TOPICS);
      this.vars = drawVars(rng, this.tenantName, this.clock);
    }
    let text: string;
    if (kind === 'research') text = rng.pick(RESEARCH_QUESTIONS);
    else if (kind === 'approval' || kind === 'approvalPending') text = 'Please refund order {order}, the {product} arrived broken.';
    else text = this.turnCount === 0 ? rng.pick(this.topic.openers) : rng.pick(this.topic.followUps);
    this.user(fill(text, this.vars) + (this.turnCount === 0 && this.firstMessageSuffix ? ` ${this.firstMessageSuffix}` : ''), gapMs);

    switch (kind) {
      case 'answer':
        this.agent(this.answer());
        break;
      case 'tool':
        this.toolRounds(rounds);
        break;
      case 'parallel': {
        const specs = this.topic.tools.length > 1 ? this.topic.tools : [...this.topic.tools, ...TOPICS[0].tools];
        const calls = specs.slice(0, rng.int(2, 3)).map((spec) => this.call(spec.name, spec.args(this.vars)));
        this.agent(this.ai(this.intro(), calls), 'tools');
        this.tools(calls.map((call, i) => this.result(call, i === 1 && rng.chance(0.5) ? 'error' : 'success')));
        this.agent(this.answer());
        break;
      }
      case 'toolError': {
        const spec = rng.pick(this.topic.tools);
        const first = this.call(spec.name, spec.args(this.vars));
        this.agent(this.ai(this.intro(), [first]), 'tools');
        this.tools([this.result(first, 'error')]);
        const retry = this.call(spec.name, spec.args(this.vars));
        this.agent(this.ai('The lookup failed; trying once more.', [retry]), 'tools');
        this.tools([this.result(retry, 'success')]);
        this.agent(this.answer());
        break;
      }
      case 'approval':
      case 'approvalPending':
        this.approval(kind === 'approval');
        break;
      case 'research':
        this.research();
        break;
      case 'crash': {
        const task: Task = { id: this.root.taskId('agent'), node: 'agent' };
        this.lastError = rng.pick(CRASHES);
        this.root.fail(task, this.lastError);
        this.status = 'ERROR';
        break;
      }
    }
    this.turnCount += 1;
  }

  /** `rounds` tool calls one after the other, then the answer. */
  private toolRounds(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      const spec = this.rng.pick(this.topic.tools);
      const call = this.call(spec.name, spec.args(this.vars));
      this.agent(this.ai(this.intro(), [call]), 'tools');
      this.tools([this.result(call, this.rng.chance(0.08) ? 'error' : 'success')]);
    }
    this.agent(this.answer());
  }

  /** The user's message: an `input` checkpoint, then the superstep applying it. */
  private user(text: string, gapMs: number): void {
    const input = [inputMessage(this.rng, 'user', text)];
    if (this.turnCount === 0 && this.rng.chance(0.35)) {
      input.unshift(inputMessage(this.rng, 'system', systemPrompt(this.tenantName, 'agent')));
    }
    this.root.input(this.after(gapMs), input, 'agent');
    this.root.start(this.tick(2, 15));
  }

  /** Advances the thread's clock by `ms` and returns the new time. */
  private after(ms: number): number {
    this.clock += ms;
    return this.clock;
  }

  /** Advances the clock by a random duration in [min, max] ms. */
  private tick(min: number, max: number): number {
    return this.after(this.rng.int(min, max));
  }

  private modelLatency(): number {
    return this.model.reasoning ? this.rng.int(3 * SECOND, 25 * SECOND) : this.rng.int(500, 6 * SECOND);
  }

  private agent(message: LcMessage, next?: 'tools' | 'approve' | 'research'): void {
    const task: Task = {
      id: this.root.taskId('agent'),
      node: 'agent',
      messages: [message],
      ...(next ? { goto: { node: next, conditional: true } } : {}),
    };
    this.root.superstep(this.after(this.modelLatency()), [task]);
  }

  private tools(results: LcMessage[]): void {
    const task: Task = { id: this.root.taskId('tools'), node: 'tools', messages: results, goto: { node: 'agent', conditional: false } };
    this.root.superstep(this.tick(40, 2_500), [task]);
  }

  private approval(resume: boolean): void {
    const rng = this.rng;
    const call = this.call('issue_refund', { orderId: this.vars.order, amount: this.vars.amount, currency: 'USD' });
    this.agent(this.ai(`I can refund $${this.vars.amount} for order ${this.vars.order}; this needs approval.`, [call]), 'approve');
    const value = {
      action: 'issue_refund',
      args: call.args,
      question: `Approve a refund of $${this.vars.amount} for order ${this.vars.order}?`,
    };
    const pending: Task = { id: this.root.taskId('approve'), node: 'approve' };
    const entry = this.root.interrupt(pending, value);
    if (!resume) {
      this.pendingInterrupt = entry;
      this.status = 'INTERRUPTED';
      return;
    }
    const decision = { approved: true, reviewer: rng.pick(['maria@support', 'dev@support', 'kim@support']) };
    const result = toolMessage(rng, {
      call,
      content: JSON.stringify({ refundId: `re_${rng.base62(14)}`, status: 'approved' }),
      status: 'success',
      viaToolNode: false,
    });
    const task: Task = { ...pending, messages: [result], goto: { node: 'agent', conditional: false } };
    // The resumed step's duration includes the human's wait.
    this.root.resume(this.tick(2 * MINUTE, 3 * HOUR), task, decision);
    this.agent(this.ai(`The refund of $${this.vars.amount} was approved and will reach you within 5 business days.`));
  }

  private research(): void {
    const rng = this.rng;
    this.agent(this.ai('This needs some research; handing over to the research assistant.'), 'research');
    const parentHead = this.root.head;
    const researchTask = this.root.taskId('research');
    const sub = new CheckpointThread(this.sink, rng, {
      threadId: this.root.threadId,
      ns: `research:${researchTask}`,
      parents: { '': parentHead.id },
      metadata: { tenant_id: this.tenantId, ...this.runMetadata },
    });
    sub.input(this.tick(3, 20), this.root.messages, 'search', true);
    sub.start(this.tick(2, 10));
    const docs = TOPICS.flatMap((topic) => topic.docs).filter(() => rng.chance(0.3));
    const found = aiMessage(rng, {
      content: `Found ${docs.length} relevant documents: ${docs.map((doc) => doc.source).join(', ') || 'none'}.`,
      model: MODELS.mini.name,
      usage: { input: rng.int(600, 1_500), output: rng.int(40, 120), reasoning: 0 },
    });
    sub.superstep(this.tick(SECOND, 4 * SECOND), [
      { id: sub.taskId('search'), node: 'search', messages: [found], goto: { node: 'summarize', conditional: false } },
    ]);
    const summary = aiMessage(rng, {
      content: `Summary: ${docs.map((doc) => doc.snippet).join(' ') || 'no documents matched the question.'}`,
      model: MODELS.mini.name,
      usage: { input: rng.int(1_500, 4_000), output: rng.int(150, 400), reasoning: 0 },
    });
    sub.superstep(this.tick(2 * SECOND, 8 * SECOND), [{ id: sub.taskId('summarize'), node: 'summarize', messages: [summary] }]);
    // The parent's research task returns the subgraph's whole final list.
    this.root.superstep(this.tick(3, 20), [
      {
        id: researchTask,
        node: 'research',
        messages: sub.messages,
        writeStateForm: true,
        goto: { node: 'agent', conditional: false },
      },
    ]);
    this.agent(this.answer());
  }

  private call(name: string, args: Record<string, unknown>): ToolCall {
    return { id: `call_${this.rng.base62(24)}`, name, args };
  }

  private result(call: ToolCall, status: 'success' | 'error'): LcMessage {
    const spec = TOPICS.flatMap((topic) => topic.tools).find((tool) => tool.name === call.name);
    const content =
      status === 'error'
        ? `Error: ${this.rng.pick(['timeout after 5s', 'upstream returned 502 Bad Gateway', 'order not found'])}\n Please fix your mistakes.`
        : JSON.stringify(spec ? spec.result(this.vars, this.rng) : { ok: true });
    return toolMessage(this.rng, { call, content, status, viaToolNode: true });
  }

  private intro(): string {
    return fill(this.rng.pick(this.topic.toolIntros), this.vars);
  }

  private answer(): LcMessage {
    return this.ai(fill(this.rng.pick(this.topic.answers), this.vars));
  }

  /** An AI message of the thread's model, with reasoning content blocks when the model reasons. */
  private ai(text: string, toolCalls: readonly ToolCall[] = []): LcMessage {
    const rng = this.rng;
    const reasoning = this.model.reasoning ? rng.int(40, 900) : 0;
    const note = fill(rng.pick(REASONING_NOTES), this.vars);
    let content: string | Record<string, unknown>[] = text;
    if (this.model.reasoning === 'thinking') {
      content = [
        { type: 'thinking', thinking: note, signature: rng.base62(64) },
        { type: 'text', text },
      ];
    } else if (this.model.reasoning === 'reasoning') {
      content = [
        { type: 'reasoning', reasoning: note },
        { type: 'text', text },
      ];
    }
    const input = 400 + this.root.messages.length * 140 + rng.int(0, 300);
    const output = Math.ceil(text.length / 4) + toolCalls.length * 25 + reasoning + rng.int(0, 40);
    return aiMessage(rng, { content, toolCalls, model: this.model.name, usage: { input, output, reasoning } });
  }
}

/** What one tenant's threads are generated from. */
export interface ConversationsInput {
  readonly seed: number;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly now: number;
}

/** Writes the `index`-th thread of a tenant to the sink and returns its `conversations` row. */
export function generateConversation(input: ConversationsInput, index: number, sink: CheckpointSink): unknown[] {
  const rng = new Random(`${input.seed}:conversation:${input.tenantId}:${index}`);
  const scenario = SCENARIOS[index]?.[0] ?? rng.weighted(SCENARIOS);
  const model =
    scenario.model ??
    rng.weighted<ModelSpec>([
      [MODELS.mini, 55],
      [MODELS.large, 25],
      [MODELS.sonnet, 12],
      [MODELS.haiku, 8],
    ]);
  // Threads start between 30 days and 8 hours ago; runs and waits fit well within those 8 hours.
  const start = input.now - rng.int(8 * HOUR, 30 * DAY);
  const markers = conversationMarkers(input.seed, input.tenantId, index);
  const thread = new AgentThread(
    sink,
    rng,
    input.tenantId,
    input.tenantName,
    model,
    start,
    markers.campaign ? { campaign: CAMPAIGNS[markers.campaign] } : {},
    markers.text ? SESSION_MARKERS[markers.text].sentence : '',
  );
  scenario.turns(rng).forEach((kind, turn) => thread.turn(kind, turn === 0 ? 1 : rng.int(20 * SECOND, 20 * MINUTE)));
  return conversationRow(rng.uuid(), input.tenantId, thread);
}

/**
 * Writes one long thread of exactly `steps` root checkpoints (3 + 2k per run: input, start, k tool
 * rounds, answer), awaiting `drain` between runs so rows stream out; returns its `conversations` row.
 */
export async function generateLongThread(
  input: ConversationsInput,
  steps: number,
  sink: CheckpointSink,
  drain: () => Promise<void>,
): Promise<unknown[]> {
  const rng = new Random(`${input.seed}:long-thread:${input.tenantId}`);
  const rounds = planRuns(steps, rng);
  const maxGap = 20 * MINUTE;
  const start = input.now - rounds.length * (maxGap + MINUTE) - HOUR;
  const thread = new AgentThread(sink, rng, input.tenantId, input.tenantName, MODELS.large, start);
  for (const [turn, count] of rounds.entries()) {
    thread.turn('tool', turn === 0 ? 1 : rng.int(MINUTE, maxGap), count);
    await drain();
  }
  return conversationRow(rng.uuid(), input.tenantId, thread);
}

/** Tool rounds per run so that the runs add up to exactly `steps` checkpoints (steps = 3 or ≥ 5). */
export function planRuns(steps: number, rng: Random): number[] {
  // Every run has an odd number of checkpoints, so the number of runs has the parity of `steps`.
  let runs = Math.max(1, Math.floor(steps / 6));
  if ((steps - runs) % 2 !== 0) runs += runs > 1 ? -1 : 1;
  if (runs * 3 > steps) throw new Error(`Expected long-thread steps of 3 or at least 5, received ${steps}`);
  const rounds = new Array<number>(runs).fill(0);
  for (let extra = (steps - runs * 3) / 2; extra > 0; extra--) rounds[rng.int(0, runs - 1)] += 1;
  return rounds;
}
