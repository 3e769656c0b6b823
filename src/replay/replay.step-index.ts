/**
 * The step index: a compact per-checkpoint summary of one (thread, namespace) lineage — how many steps each
 * checkpoint produces and how many come before it, per-type counts and token sums — that a sync job keeps up to date
 * so that ordinal cursors (and type filters) can jump straight to the checkpoints holding a page, and so that thread
 * rollups can be refreshed without decoding anything old.
 *
 * Keeping it incrementally: steps of a checkpoint only change while it is the newest one (interrupt, resume and error
 * writes land under the newest checkpoint). So on each sync, re-index from the previously newest checkpoint (inclusive)
 * to the new head with {@link indexCheckpointWindow} and {@link spliceStepIndex} the result in; that decodes only
 * the new checkpoints' `messages` blobs plus one.
 */
import {
  REPLAY_STEP_TYPES,
  transformCheckpointWindowDetailed,
  type CheckpointSteps,
  type ReplayStep,
  type ReplayStepType,
  type TransformWindowInput,
} from './replay.transformer';

/** Index entry of one checkpoint. */
export interface StepIndexEntry {
  checkpointId: string;
  parentCheckpointId: string | null;
  /** `checkpoint.ts` (ISO-8601). */
  timestamp: string;
  /** Steps of the lineage before this checkpoint; its steps have ordinals stepsBefore + 1 … stepsBefore + stepCount. */
  stepsBefore: number;
  stepCount: number;
  /** Number of steps of each type (types with no step are left out). */
  typeCounts: Partial<Record<ReplayStepType, number>>;
  /** Token sums of the model calls whose messages first appear at this checkpoint. */
  tokens: { input: number; output: number; reasoning: number; total: number };
  /** Models of those calls, in order of first use. */
  models: string[];
}

/** Builds the index entries of already-transformed checkpoints (ordinals are taken from their steps' position). */
export function stepIndexEntriesOf(results: readonly CheckpointSteps[], stepsBefore: number): StepIndexEntry[] {
  let before = stepsBefore;
  return results.map((result) => {
    const entry = summarizeCheckpoint(result, before);
    before += entry.stepCount;
    return entry;
  });
}

/** Transforms a window of checkpoints and returns its index entries (the sync job's unit of work). */
export function indexCheckpointWindow(input: TransformWindowInput): StepIndexEntry[] {
  return stepIndexEntriesOf(transformCheckpointWindowDetailed(input), input.stepsBefore);
}

/**
 * Replaces the tail of an index with freshly computed entries: `recomputed[0]` must be an entry of `previous` (its
 * entry and everything after it are replaced) or the child of `previous`'s last entry (appended). Ordinals of the
 * new entries are rebased onto the kept prefix. Throws when the lineage does not connect (a fork or rewind: rebuild).
 */
export function spliceStepIndex(previous: readonly StepIndexEntry[], recomputed: readonly StepIndexEntry[]): StepIndexEntry[] {
  const first = recomputed[0];
  if (first === undefined) return [...previous];
  let keep = previous.findIndex((entry) => entry.checkpointId === first.checkpointId);
  if (keep === -1) {
    const last = previous.at(-1);
    if ((last?.checkpointId ?? null) !== first.parentCheckpointId) {
      throw new Error(
        `spliceStepIndex: expected checkpoint ${first.checkpointId} to be in the index or to follow its last entry ` +
          `${last?.checkpointId ?? '(empty index)'}, but its parent is ${first.parentCheckpointId ?? 'none'}`,
      );
    }
    keep = previous.length;
  }
  const prefix = previous.slice(0, keep);
  const tail = prefix.at(-1);
  let before = tail === undefined ? 0 : tail.stepsBefore + tail.stepCount;
  return [
    ...prefix,
    ...recomputed.map((entry) => {
      const rebased = { ...entry, stepsBefore: before };
      before += entry.stepCount;
      return rebased;
    }),
  ];
}

/** Total number of steps of an indexed lineage, optionally only of some types. */
export function countIndexedSteps(index: readonly StepIndexEntry[], types?: readonly ReplayStepType[]): number {
  return index.reduce((sum, entry) => sum + filteredCount(entry, types), 0);
}

/** Position in the index of the checkpoint holding a given ordinal, or -1 when no checkpoint holds it. */
export function findCheckpointPosition(index: readonly StepIndexEntry[], ordinal: number): number {
  let low = 0;
  let high = index.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const entry = index[middle] as StepIndexEntry;
    if (ordinal <= entry.stepsBefore) high = middle - 1;
    else if (ordinal > entry.stepsBefore + entry.stepCount) low = middle + 1;
    else return middle;
  }
  return -1;
}

/** A page request over ordinals, in Relay terms (cursors are ordinals). */
export interface StepWindowRequest {
  first?: number;
  /** Exclusive lower bound: only steps with a greater ordinal. */
  after?: number;
  last?: number;
  /** Exclusive upper bound: only steps with a smaller ordinal. */
  before?: number;
  /** Only steps of these types (all when omitted or empty). */
  types?: readonly ReplayStepType[];
}

/** The checkpoints to load and transform to answer a page request. */
export interface StepWindowPlan {
  /** Ids of the checkpoints to transform, oldest first (empty when the page is empty). */
  checkpointIds: string[];
  /** Parent of the first one (its `messages` blob supplies the ids to diff against), null at the root. */
  parentCheckpointId: string | null;
  /** `stepsBefore` to pass to the window transform. */
  stepsBefore: number;
  /** Matching steps in checkpoints before the window (for `hasPreviousPage`). */
  matchingStepsBeforeWindow: number;
  /** Matching steps in checkpoints after the window (for `hasNextPage`). */
  matchingStepsAfterWindow: number;
}

/**
 * Chooses the fewest consecutive checkpoints that contain the requested page plus one more matching step in the paging
 * direction (to tell whether there is a next page), using only the index.
 */
export function planStepWindow(index: readonly StepIndexEntry[], request: StepWindowRequest): StepWindowPlan {
  const types = request.types !== undefined && request.types.length > 0 ? request.types : undefined;
  const total = index.length === 0 ? 0 : stepsThrough(index[index.length - 1] as StepIndexEntry);
  const lowOrdinal = Math.max(1, (request.after ?? 0) + 1);
  const highOrdinal = Math.min(total, (request.before ?? total + 1) - 1);
  if (index.length === 0 || lowOrdinal > highOrdinal) return emptyPlan(index, types, lowOrdinal, highOrdinal);
  const lowPosition = findCheckpointPosition(index, lowOrdinal);
  const highPosition = findCheckpointPosition(index, highOrdinal);
  let start = lowPosition;
  let end = highPosition;
  if (request.first !== undefined) {
    end = walk(index, lowPosition, highPosition, 1, request.first + 1, lowOrdinal, highOrdinal, types);
  } else if (request.last !== undefined) {
    start = walk(index, highPosition, lowPosition, -1, request.last + 1, lowOrdinal, highOrdinal, types);
  }
  const sumMatching = (from: number, to: number) => index.slice(from, to).reduce((sum, entry) => sum + filteredCount(entry, types), 0);
  return {
    checkpointIds: index.slice(start, end + 1).map((entry) => entry.checkpointId),
    parentCheckpointId: (index[start] as StepIndexEntry).parentCheckpointId,
    stepsBefore: (index[start] as StepIndexEntry).stepsBefore,
    matchingStepsBeforeWindow: sumMatching(0, start),
    matchingStepsAfterWindow: sumMatching(end + 1, index.length),
  };
}

/** A page of steps with Relay page info. */
export interface StepPage {
  steps: ReplayStep[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Cuts the requested page out of the steps of a planned window (filter by types, bounds, then `first`/`last`). */
export function selectStepPage(windowSteps: readonly ReplayStep[], request: StepWindowRequest, plan: StepWindowPlan): StepPage {
  const types = request.types !== undefined && request.types.length > 0 ? new Set(request.types) : undefined;
  const matching = windowSteps.filter((step) => types === undefined || types.has(step.type));
  const inRange = matching.filter(
    (step) =>
      (request.after === undefined || step.ordinal > request.after) && (request.before === undefined || step.ordinal < request.before),
  );
  const outsideBefore = matching.some((step) => request.after !== undefined && step.ordinal <= request.after);
  const outsideAfter = matching.some((step) => request.before !== undefined && step.ordinal >= request.before);
  let page = inRange;
  let cutAtEnd = false;
  let cutAtStart = false;
  if (request.first !== undefined && page.length > request.first) {
    page = page.slice(0, request.first);
    cutAtEnd = true;
  }
  if (request.last !== undefined && page.length > request.last) {
    page = page.slice(page.length - request.last);
    cutAtStart = true;
  }
  return {
    steps: page,
    hasNextPage: cutAtEnd || outsideAfter || plan.matchingStepsAfterWindow > 0,
    hasPreviousPage: cutAtStart || outsideBefore || plan.matchingStepsBeforeWindow > 0,
  };
}

function summarizeCheckpoint(result: CheckpointSteps, stepsBefore: number): StepIndexEntry {
  const typeCounts: Partial<Record<ReplayStepType, number>> = {};
  const tokens = { input: 0, output: 0, reasoning: 0, total: 0 };
  const models: string[] = [];
  for (const step of result.steps) {
    typeCounts[step.type] = (typeCounts[step.type] ?? 0) + 1;
    if (step.tokens !== null) {
      tokens.input += step.tokens.input ?? 0;
      tokens.output += step.tokens.output ?? 0;
      tokens.reasoning += step.tokens.reasoning ?? 0;
      tokens.total += step.tokens.total ?? 0;
    }
    if (step.model !== null && !models.includes(step.model)) models.push(step.model);
  }
  return {
    checkpointId: result.checkpointId,
    parentCheckpointId: result.parentCheckpointId,
    timestamp: result.timestamp,
    stepsBefore,
    stepCount: result.steps.length,
    typeCounts: Object.fromEntries(
      REPLAY_STEP_TYPES.filter((type) => typeCounts[type] !== undefined).map((type) => [type, typeCounts[type]]),
    ),
    tokens,
    models,
  };
}

function stepsThrough(entry: StepIndexEntry): number {
  return entry.stepsBefore + entry.stepCount;
}

function filteredCount(entry: StepIndexEntry, types: readonly ReplayStepType[] | undefined): number {
  if (types === undefined) return entry.stepCount;
  return types.reduce((sum, type) => sum + (entry.typeCounts[type] ?? 0), 0);
}

/**
 * Walks from `from` towards `limit` (direction ±1) until the checkpoints passed hold `wanted` matching steps within
 * the ordinal bounds, and returns the position where it stopped. A checkpoint cut by a bound counts only when no type
 * filter is set (with one, how many of its matching steps fall inside the bound is unknown, so it counts as zero).
 */
function walk(
  index: readonly StepIndexEntry[],
  from: number,
  limit: number,
  direction: 1 | -1,
  wanted: number,
  lowOrdinal: number,
  highOrdinal: number,
  types: readonly ReplayStepType[] | undefined,
): number {
  let found = 0;
  let position = from;
  for (;;) {
    const entry = index[position] as StepIndexEntry;
    const first = Math.max(entry.stepsBefore + 1, lowOrdinal);
    const last = Math.min(stepsThrough(entry), highOrdinal);
    const whole = first === entry.stepsBefore + 1 && last === stepsThrough(entry);
    found += whole ? filteredCount(entry, types) : types === undefined ? Math.max(0, last - first + 1) : 0;
    if (found >= wanted || position === limit) return position;
    position += direction;
  }
}

/** An empty page; matching steps wholly below / above the requested range still tell whether pages exist around it. */
function emptyPlan(
  index: readonly StepIndexEntry[],
  types: readonly ReplayStepType[] | undefined,
  lowOrdinal: number,
  highOrdinal: number,
): StepWindowPlan {
  const below = index.filter((entry) => stepsThrough(entry) < lowOrdinal);
  const above = index.filter((entry) => entry.stepsBefore + 1 > highOrdinal && entry.stepsBefore + 1 >= lowOrdinal);
  return {
    checkpointIds: [],
    parentCheckpointId: null,
    stepsBefore: 0,
    matchingStepsBeforeWindow: countIndexedSteps(below, types),
    matchingStepsAfterWindow: countIndexedSteps(above, types),
  };
}
