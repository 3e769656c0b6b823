/**
 * Thread rollups the sync job stores on a Conversation: step count, token sums, models, title, pending interrupt,
 * last error and status. Computed either from all steps of the root namespace ({@link computeThreadRollups}) or,
 * incrementally, from the step index plus the newest checkpoint's steps ({@link rollupsFromStepIndex}).
 */
import type { DecodedValue } from './checkpoint.decoder';
import type { StepIndexEntry } from './replay.step-index';
import type { ReplayStep } from './replay.transformer';

/** Default length of a title, in user-perceived characters (grapheme clusters), before it is cut with an ellipsis. */
export const DEFAULT_TITLE_LENGTH = 80;

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** An interrupt the thread is waiting on. */
export interface PendingInterruptItem {
  interruptId: string | null;
  value: DecodedValue | null;
  node: string | null;
  taskId: string | null;
}

/** What an interrupted thread waits for: the unanswered interrupts of its newest checkpoint. */
export interface PendingInterrupt {
  checkpointId: string;
  interrupts: PendingInterruptItem[];
}

/** The unhandled error that stopped the last run. */
export interface ThreadError {
  checkpointId: string;
  node: string | null;
  name: string;
  message: string;
}

/** A thread's rollups, matching the Conversation columns the sync job maintains. */
export interface ThreadRollups {
  stepCount: number;
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  /** Models used, in order of first use. */
  models: string[];
  /** First user message, whitespace collapsed and cut to the title length; null before any. */
  title: string | null;
  pendingInterrupt: PendingInterrupt | null;
  lastError: ThreadError | null;
  status: 'IDLE' | 'INTERRUPTED' | 'ERROR';
  firstActivityAt: string | null;
  lastActivityAt: string | null;
  lastCheckpointId: string | null;
}

/** Options of the rollup functions. */
export interface RollupOptions {
  titleLength?: number;
}

/** A checkpoint's id and `checkpoint.ts`. */
export interface CheckpointRef {
  checkpointId: string;
  timestamp: string;
}

/** The oldest and newest checkpoints of a lineage (its first and last activity). */
export interface LineageBounds {
  first: CheckpointRef;
  last: CheckpointRef;
}

/** Computes rollups from every step of the root namespace (as transformThread returns them) and the lineage bounds. */
export function computeThreadRollups(
  steps: readonly ReplayStep[],
  bounds: LineageBounds | null,
  options: RollupOptions = {},
): ThreadRollups {
  const lastCheckpoint = bounds?.last ?? null;
  const totals = { input: 0, output: 0, reasoning: 0, total: 0 };
  const models: string[] = [];
  for (const step of steps) {
    if (step.tokens !== null) {
      totals.input += step.tokens.input ?? 0;
      totals.output += step.tokens.output ?? 0;
      totals.reasoning += step.tokens.reasoning ?? 0;
      totals.total += step.tokens.total ?? 0;
    }
    if (step.model !== null && !models.includes(step.model)) models.push(step.model);
  }
  const lastSteps = lastCheckpoint === null ? [] : steps.filter((step) => step.checkpointId === lastCheckpoint.checkpointId);
  return finish({
    stepCount: steps.length,
    totals,
    models,
    title: titleFromSteps(steps, options.titleLength),
    lastSteps,
    firstActivityAt: bounds?.first.timestamp ?? null,
    lastCheckpoint,
  });
}

/**
 * Computes rollups from the step index (counts, tokens, models, times) and the steps of the newest checkpoint
 * (interrupt and error state), without decoding older checkpoints; the title is passed in (kept from an earlier sync).
 */
export function rollupsFromStepIndex(
  index: readonly StepIndexEntry[],
  newestCheckpointSteps: readonly ReplayStep[],
  title: string | null,
): ThreadRollups {
  const totals = { input: 0, output: 0, reasoning: 0, total: 0 };
  const models: string[] = [];
  for (const entry of index) {
    totals.input += entry.tokens.input;
    totals.output += entry.tokens.output;
    totals.reasoning += entry.tokens.reasoning;
    totals.total += entry.tokens.total;
    for (const model of entry.models) if (!models.includes(model)) models.push(model);
  }
  const last = index.at(-1);
  return finish({
    stepCount: last === undefined ? 0 : last.stepsBefore + last.stepCount,
    totals,
    models,
    title,
    lastSteps: last === undefined ? [] : newestCheckpointSteps.filter((step) => step.checkpointId === last.checkpointId),
    firstActivityAt: index[0]?.timestamp ?? null,
    lastCheckpoint: last === undefined ? null : { checkpointId: last.checkpointId, timestamp: last.timestamp },
  });
}

/**
 * The title of a thread: its first user message, whitespace collapsed, cut at `maxLength` grapheme clusters with "…"
 * (so an emoji with a skin tone or a flag is never split).
 */
export function titleFromSteps(steps: readonly ReplayStep[], maxLength = DEFAULT_TITLE_LENGTH): string | null {
  const first = steps.find((step) => step.type === 'USER_MESSAGE' && (step.content ?? '').trim() !== '');
  if (first === undefined) return null;
  const text = (first.content ?? '').replace(/\s+/g, ' ').trim();
  const graphemes = Array.from(graphemeSegmenter.segment(text), (part) => part.segment);
  return graphemes.length <= maxLength
    ? text
    : `${graphemes
        .slice(0, maxLength - 1)
        .join('')
        .trimEnd()}…`;
}

function finish(parts: {
  stepCount: number;
  totals: { input: number; output: number; reasoning: number; total: number };
  models: string[];
  title: string | null;
  lastSteps: readonly ReplayStep[];
  firstActivityAt: string | null;
  lastCheckpoint: CheckpointRef | null;
}): ThreadRollups {
  const pendingInterrupt = pendingInterruptOf(parts.lastSteps);
  const lastError = lastErrorOf(parts.lastSteps);
  return {
    stepCount: parts.stepCount,
    inputTokens: parts.totals.input,
    outputTokens: parts.totals.output,
    reasoningTokens: parts.totals.reasoning,
    totalTokens: parts.totals.total,
    models: parts.models,
    title: parts.title,
    pendingInterrupt,
    lastError,
    // An interrupt waiting for a human outranks an error of a sibling task: the thread can still be resumed.
    status: pendingInterrupt !== null ? 'INTERRUPTED' : lastError !== null ? 'ERROR' : 'IDLE',
    firstActivityAt: parts.firstActivityAt,
    lastActivityAt: parts.lastCheckpoint?.timestamp ?? null,
    lastCheckpointId: parts.lastCheckpoint?.checkpointId ?? null,
  };
}

/** Interrupts of the newest checkpoint that no resume answered (a resume of the null task answers them all). */
function pendingInterruptOf(lastSteps: readonly ReplayStep[]): PendingInterrupt | null {
  const resumes = lastSteps.filter((step) => step.type === 'RESUME');
  if (resumes.some((step) => step.taskId === null)) return null;
  const resumedTasks = new Set(resumes.map((step) => step.taskId));
  const open = lastSteps.filter((step) => step.type === 'INTERRUPT' && !resumedTasks.has(step.taskId));
  const first = open[0];
  if (first === undefined) return null;
  return {
    checkpointId: first.checkpointId,
    interrupts: open.map((step) => ({
      interruptId: step.interruptId,
      value: step.params,
      node: step.node,
      taskId: step.taskId,
    })),
  };
}

function lastErrorOf(lastSteps: readonly ReplayStep[]): ThreadError | null {
  const error = lastSteps.filter((step) => step.type === 'ERROR').at(-1);
  if (error === undefined) return null;
  const result = error.result;
  const name =
    result !== null && typeof result === 'object' && !Array.isArray(result) && !Buffer.isBuffer(result) && typeof result.name === 'string'
      ? result.name
      : 'Error';
  return { checkpointId: error.checkpointId, node: error.node, name, message: error.content ?? '' };
}
