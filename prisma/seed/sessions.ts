// Chat bot sessions and their messages, one independent random stream per session.
import {
  APP_BUILDS,
  ASSISTANT_CLOSINGS,
  CHANNELS,
  LOCALES,
  MESSAGE_ERRORS,
  MODELS,
  SYSTEM_NOTES,
  TIERS,
  TOOL_FAILURES,
  TOPICS,
  USER_AGENTS,
  USER_CLOSINGS,
  drawVars,
  fill,
  systemPrompt,
  type Locale,
  type ModelSpec,
  type Topic,
  type Vars,
} from './content';
import { Random } from './random';
import { CAMPAIGNS, MESSAGE_MARKERS, SESSION_MARKERS, rowMarkers, userMessageTier } from './search-markers';
import type { TableSpec } from './writer';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How far back sessions go. */
const SESSION_SPAN_MS = 42 * DAY;
/** Idle time after which a session is EXPIRED (convoql's default SESSION_IDLE_TIMEOUT_MINUTES): ended_at = last_activity_at + this. */
const SESSION_IDLE_TIMEOUT_MS = 30 * MINUTE;
/** ACTIVE sessions had activity within this window before `now`. */
const ACTIVE_WINDOW_MS = 20 * MINUTE;

/** Columns of `sessions` in the order generateSession returns them. */
export const SESSIONS_TABLE: TableSpec = {
  name: 'sessions',
  columns: [
    ['id', 'uuid'],
    ['tenant_id', 'text'],
    ['external_id', 'text'],
    ['channel', 'text'],
    ['status', 'session_status'],
    ['started_at', 'timestamptz'],
    ['ended_at', 'timestamptz'],
    ['last_activity_at', 'timestamptz'],
    ['metadata', 'jsonb'],
  ],
};

/** Columns of `messages` in the order generateSession returns them. */
export const MESSAGES_TABLE: TableSpec = {
  name: 'messages',
  columns: [
    ['id', 'uuid'],
    ['tenant_id', 'text'],
    ['session_id', 'uuid'],
    ['role', 'message_role'],
    ['content', 'text'],
    ['created_at', 'timestamptz'],
    ['metadata', 'jsonb'],
  ],
};

/** What one session is generated from. */
export interface SessionInput {
  readonly seed: number;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly index: number;
  /** Anchor of all timestamps, in ms. */
  readonly now: number;
  readonly messagesPerSession: number;
}

/** A generated session row and its message rows, as column values in table order. */
export interface GeneratedSession {
  readonly session: unknown[];
  readonly messages: unknown[][];
}

type Role = 'USER' | 'ASSISTANT' | 'SYSTEM' | 'TOOL';

interface Draft {
  role: Role;
  content: string;
  /** Offset from the session start, ms. */
  at: number;
  metadata: Record<string, unknown>;
}

/** The `toolCalls[]` entry of message metadata. */
interface ToolCallMeta {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  result?: Record<string, unknown>;
  status: 'success' | 'error';
  durationMs: number;
  error?: string;
}

/** Builds the messages of a session as drafts with times relative to its start. */
class SessionScript {
  readonly drafts: Draft[] = [];
  private at = 0;
  private turn = 0;

  constructor(
    private readonly rng: Random,
    private readonly model: ModelSpec,
    private readonly topic: Topic,
    private readonly vars: Vars,
    private readonly locale: Locale,
    private readonly limit: number,
  ) {}

  get full(): boolean {
    return this.drafts.length >= this.limit;
  }

  private push(role: Role, content: string, gapMs: number, metadata: Record<string, unknown> = {}): void {
    if (this.full) return;
    this.at += Math.max(1, gapMs);
    this.drafts.push({ role, content, at: this.at, metadata });
  }

  system(content: string): void {
    this.push('SYSTEM', content, 1);
  }

  user(): void {
    const rng = this.rng;
    let template: string;
    if (this.turn === 0) {
      const localized = this.topic.localized[this.locale];
      template = localized && rng.chance(0.6) ? rng.pick(localized) : rng.pick(this.topic.openers);
    } else {
      template = rng.chance(0.7) ? rng.pick(this.topic.followUps) : rng.pick(USER_CLOSINGS);
    }
    // The first message comes seconds after the session opens; later ones after reading and typing.
    const gap = this.turn === 0 ? rng.int(800, 20_000) : rng.int(4_000, 150_000);
    this.push('USER', fill(template, this.vars), gap);
    this.turn += 1;
  }

  /** One assistant reply, possibly with tool calls (each followed by a TOOL message) first. */
  assistant(): void {
    const rng = this.rng;
    if (this.topic.tools.length > 0 && rng.chance(0.4)) {
      const parallel = this.topic.tools.length > 1 && rng.chance(0.2);
      const specs = parallel ? this.topic.tools.slice(0, 2) : [rng.pick(this.topic.tools)];
      const calls = specs.map((spec): ToolCallMeta => {
        const durationMs = rng.int(40, 2_500);
        const base = { id: `call_${rng.base62(12)}`, name: spec.name, arguments: spec.args(this.vars) };
        return rng.chance(0.1)
          ? { ...base, status: 'error', durationMs, error: rng.pick(TOOL_FAILURES) }
          : { ...base, result: spec.result(this.vars, rng), status: 'success', durationMs };
      });
      this.push('ASSISTANT', fill(rng.pick(this.topic.toolIntros), this.vars), this.latency(), {
        ...this.usage(20, 60),
        toolCalls: calls,
      });
      for (const call of calls) {
        const content = call.status === 'success' ? JSON.stringify(call.result) : `Error: ${call.error}`;
        this.push('TOOL', content, call.durationMs, { toolCalls: [call] });
      }
    }
    if (rng.chance(0.025)) {
      const [code, message] = rng.pick(MESSAGE_ERRORS);
      // latencyMs and the error's `at` are filled in once the session's start time is known.
      this.push('ASSISTANT', "Sorry, I'm having trouble answering right now. Please try again in a moment.", this.latency() + 5_000, {
        model: this.model.name,
        latencyMs: 0,
        errors: [{ message, code, at: '' }],
      });
      return;
    }
    const retrieval =
      this.topic.docs.length > 0 && rng.chance(0.55)
        ? this.topic.docs
            .filter(() => rng.chance(0.7))
            .map((doc) => ({ source: doc.source, score: rng.int(55, 97) / 100, snippet: doc.snippet }))
        : [];
    const content = this.turn > 1 && rng.chance(0.25) ? rng.pick(ASSISTANT_CLOSINGS) : fill(rng.pick(this.topic.answers), this.vars);
    this.push('ASSISTANT', content, this.latency(), {
      ...this.usage(40, 220, retrieval.length),
      ...(retrieval.length > 0 ? { retrieval } : {}),
    });
  }

  note(): void {
    this.push('SYSTEM', this.rng.pick(SYSTEM_NOTES), this.rng.int(1_000, 30_000));
  }

  private latency(): number {
    return this.rng.int(350, 4_500);
  }

  /** model, usage and latencyMs of an assistant message; latencyMs is filled in by generateSession. */
  private usage(minOut: number, maxOut: number, documents = 0): Record<string, unknown> {
    const inputTokens = 350 + this.drafts.length * 90 + documents * 420 + this.rng.int(0, 200);
    return {
      model: this.model.name,
      usage: { inputTokens, outputTokens: this.rng.int(minOut, maxOut) },
      latencyMs: 0,
    };
  }
}

/** Weights of the hours of day (UTC) at which sessions start: business hours dominate. */
const HOUR_WEIGHTS: readonly number[] = [
  0.25, 0.2, 0.15, 0.15, 0.2, 0.3, 0.5, 0.75, 0.95, 1, 1, 1, 0.95, 1, 1, 1, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3,
];

/** A start time in [earliest, latest], denser in recent weeks and in business hours. */
function drawStart(rng: Random, earliest: number, latest: number): number {
  if (latest <= earliest) return latest;
  let t = latest;
  for (let attempt = 0; attempt < 8; attempt++) {
    // u^1.5 leans towards `latest` (traffic grew over the weeks); sqrt is exactly rounded everywhere.
    const u = rng.next();
    t = Math.round(latest - (latest - earliest) * u * Math.sqrt(u));
    const hour = Math.floor((t % DAY) / HOUR);
    if (rng.next() < HOUR_WEIGHTS[hour]) break;
  }
  return t;
}

/** Generates one session and its messages; the result depends only on the input. */
export function generateSession(input: SessionInput): GeneratedSession {
  const rng = new Random(`${input.seed}:session:${input.tenantId}:${input.index}`);
  const id = rng.uuid();
  const channel = rng.weighted(CHANNELS);
  const locale: Locale = channel === 'wechat' ? 'zh-CN' : rng.weighted(LOCALES);
  const tier = rng.weighted(TIERS);
  const topic = rng.pick(TOPICS);
  const vars = drawVars(rng, input.tenantName, input.now);
  const model = rng.weighted<ModelSpec>([
    [MODELS.mini, 70],
    [MODELS.large, 20],
    [MODELS.sonnet, 10],
  ]);
  const count = input.messagesPerSession === 0 ? 0 : Math.max(1, Math.round(input.messagesPerSession * rng.float(0.4, 1.6)));

  const script = new SessionScript(rng, model, topic, vars, locale, count);
  if (rng.chance(0.5)) script.system(systemPrompt(input.tenantName, channel));
  while (!script.full) {
    script.user();
    script.assistant();
    if (rng.chance(0.03)) script.note();
  }
  const drafts = script.drafts;
  const markers = addSearchMarkers(input, drafts);
  const duration = drafts.length > 0 ? drafts[drafts.length - 1].at : 0;

  // Timing: a few sessions are live (ACTIVE, recent activity); the rest ended at least 2 h ago.
  let status: 'ACTIVE' | 'CLOSED' | 'EXPIRED';
  let startedAt: number;
  let endedAt: number | null = null;
  if (rng.chance(0.03)) {
    status = 'ACTIVE';
    startedAt = input.now - rng.int(5_000, ACTIVE_WINDOW_MS) - duration;
  } else {
    status = rng.chance(0.75) ? 'CLOSED' : 'EXPIRED';
    const latest = input.now - 2 * HOUR - SESSION_IDLE_TIMEOUT_MS - duration;
    startedAt = drawStart(rng, input.now - SESSION_SPAN_MS, latest);
    const last = startedAt + duration;
    endedAt = status === 'EXPIRED' ? last + SESSION_IDLE_TIMEOUT_MS : last + rng.int(2_000, 10 * MINUTE);
  }
  const lastActivityAt = startedAt + duration;

  const metadata: Record<string, unknown> = {
    locale,
    customerTier: tier,
    customerId: `cus_${rng.base62(10)}`,
  };
  if (channel === 'web') metadata.userAgent = rng.pick(USER_AGENTS);
  if (channel === 'app') metadata.appVersion = rng.pick(APP_BUILDS);
  if (channel === 'api') metadata.clientId = `client_${rng.base62(8)}`;
  if (channel === 'email') metadata.from = vars.email;
  if (channel === 'wechat') metadata.openId = `o${rng.base62(27)}`;
  if (channel === 'phone') metadata.callerCountry = rng.pick(['US', 'GB', 'DE', 'FR', 'JP']);
  metadata.topic = topic.key;
  if (markers.campaign) metadata.campaign = CAMPAIGNS[markers.campaign];

  const externalId = `sess_${rng.base62(14)}${input.index.toString(36).padStart(4, '0')}`;
  const iso = (ms: number) => new Date(ms).toISOString();
  const messages = drafts.map((draft, i) => {
    const createdAt = startedAt + draft.at;
    const meta = draft.metadata;
    // latencyMs is the time since the previous message; an error's `at` is the message's own time.
    if ('latencyMs' in meta) meta.latencyMs = i === 0 ? draft.at : draft.at - drafts[i - 1].at;
    const errors = meta.errors as { at: string }[] | undefined;
    if (errors) for (const error of errors) error.at = iso(createdAt);
    return [rng.uuid(), input.tenantId, id, draft.role, draft.content, iso(createdAt), JSON.stringify(meta)];
  });

  return {
    session: [
      id,
      input.tenantId,
      externalId,
      channel,
      status,
      iso(startedAt),
      endedAt === null ? null : iso(endedAt),
      iso(lastActivityAt),
      JSON.stringify(metadata),
    ],
    messages,
  };
}

/**
 * Ends user messages with the search benchmark's postscripts and one user message of the session with its text marker
 * (search-markers.ts); returns the session's markers. Draws only from the markers' own stream.
 */
function addSearchMarkers(input: SessionInput, drafts: Draft[]): ReturnType<typeof rowMarkers> {
  const markers = rowMarkers(input.seed, 'session', input.tenantId, input.index);
  const users = drafts.filter((draft) => draft.role === 'USER');
  for (const draft of users) {
    const tier = userMessageTier(markers.rng);
    if (tier) draft.content += ` ${MESSAGE_MARKERS[tier].sentence}`;
  }
  if (markers.text && users.length > 0) markers.rng.pick(users).content += ` ${SESSION_MARKERS[markers.text].sentence}`;
  return markers;
}
