/**
 * `convoql import`: NDJSON session lines (session.ndjson.ts) written through the one write path of sessions and
 * messages (session.writes.ts, message.writes.ts: the API's upsertSession and appendMessages) and of status changes
 * (changeSessionStatus), so an import is checked against the same limits and is idempotent by the same keys: the session
 * by (tenant, sessionId), a message by (tenant, session, clientMessageId). Running it twice changes nothing.
 *
 * Lines stream through with constant memory: they are checked as they are read, gathered into batches of a bounded
 * number of sessions and messages, and each batch is written with one upsert per session, one append statement per
 * few thousand messages (all sessions of the batch together) and a status change per newly ended session.
 */
import type { TenantContext } from '../core/context';
import type { Session as SessionRow } from '../generated/prisma/client';
import { appendMessageBatches, checkMessages, type NewMessage } from './message.writes';
import { changeSessionStatus } from './session.repository';
import { parseSessionLine, RecordError, type SessionRecord } from './session.ndjson';
import { SessionStatus } from './session.type';
import { checkSessionUpsert, upsertSession } from './session.writes';
import type { WriteProblem } from './session.write-checks';

/** What an import did so far; counts add up: every non-blank line is written or bad. */
export interface ImportSummary {
  /** Non-blank lines read. */
  lines: number;
  /** Lines refused (not written at all). */
  badLines: number;
  sessionsCreated: number;
  /** Sessions that existed already (their fields set as the line says; nothing changes on a rerun). */
  sessionsExisting: number;
  /** Sessions whose status the import set to CLOSED or EXPIRED. */
  sessionsEnded: number;
  messagesWritten: number;
  /** Messages whose clientMessageId the session held already: nothing written for them. */
  messagesDuplicate: number;
}

/** A refused line. */
export interface ImportProblem {
  /** 1-based line number in the input. */
  line: number;
  /** The session the line names, when it could be read. */
  sessionId: string | null;
  /** Why, naming the field (`messages[3].content: …`). */
  reason: string;
}

/** Options of {@link importSessions}. */
export interface ImportOptions {
  /** Stop at the first bad line (what came before it is written); by default it is reported and the rest goes on. */
  strict?: boolean;
  /** Called for each bad line, in order. */
  onProblem?: (problem: ImportProblem) => void;
  /** Called after each written batch. */
  onProgress?: (summary: Readonly<ImportSummary>) => void;
  /** Most sessions per batch (default 500). */
  sessionsPerBatch?: number;
  /** Most messages per batch, and per append statement (default 5000). */
  messagesPerBatch?: number;
  /** The clock limits are checked against (default now). */
  now?: Date;
}

interface CheckedRecord {
  line: number;
  record: SessionRecord;
  messages: NewMessage[];
}

/** Imports NDJSON lines into the context's tenant; resolves with the summary (also when stopped by --strict). */
export async function importSessions(
  context: TenantContext,
  lines: AsyncIterable<string>,
  options: ImportOptions = {},
): Promise<ImportSummary & { stoppedAtLine: number | null }> {
  const sessionsPerBatch = options.sessionsPerBatch ?? 500;
  const messagesPerBatch = options.messagesPerBatch ?? 5000;
  const now = options.now ?? new Date();
  const summary: ImportSummary = {
    lines: 0,
    badLines: 0,
    sessionsCreated: 0,
    sessionsExisting: 0,
    sessionsEnded: 0,
    messagesWritten: 0,
    messagesDuplicate: 0,
  };
  let batch: CheckedRecord[] = [];
  let batchMessages = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await writeBatch(context, batch, messagesPerBatch, summary);
    batch = [];
    batchMessages = 0;
    options.onProgress?.(summary);
  };
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === '') continue;
    summary.lines += 1;
    const checked = checkLine(context, line, number, now);
    if ('problem' in checked) {
      summary.badLines += 1;
      options.onProblem?.(checked.problem);
      if (options.strict) {
        await flush();
        return { ...summary, stoppedAtLine: number };
      }
      continue;
    }
    if (batch.length >= sessionsPerBatch || (batch.length > 0 && batchMessages + checked.messages.length > messagesPerBatch)) await flush();
    batch.push(checked);
    batchMessages += checked.messages.length;
  }
  await flush();
  return { ...summary, stoppedAtLine: null };
}

/** Parses a line and checks it as the API checks upsertSession and appendMessages, without touching the database. */
function checkLine(context: TenantContext, line: string, number: number, now: Date): CheckedRecord | { problem: ImportProblem } {
  let record: SessionRecord;
  try {
    record = parseSessionLine(line);
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    return { problem: { line: number, sessionId: sessionIdOf(line), reason: error.message } };
  }
  const problems: WriteProblem[] = checkSessionUpsert(
    context.config,
    {
      sessionId: record.sessionId,
      channel: record.channel,
      startedAt: record.startedAt ?? null,
      metadata: record.metadata ?? null,
      ...(record.threadId !== undefined ? { threadId: record.threadId } : {}),
    },
    now,
  );
  let messages: NewMessage[] = [];
  if (record.messages.length > 0) {
    // A line holds a whole session: the API's 500 per call does not apply, the batch's statement size does (see writeBatch).
    const checked = checkMessages(context.config, record.messages, now, { maxBatch: Number.MAX_SAFE_INTEGER });
    problems.push(...checked.problems);
    messages = checked.messages;
  }
  if (problems.length > 0) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    return { problem: { line: number, sessionId: record.sessionId, reason: `${pathText(first.path)}: ${first.message}${more}` } };
  }
  return { line: number, record, messages };
}

/** Writes a batch of checked lines: upserts, appends (all sessions together, in statements of `messagesPerStatement`), ends. */
async function writeBatch(context: TenantContext, batch: CheckedRecord[], messagesPerStatement: number, summary: ImportSummary) {
  const sessions: SessionRow[] = [];
  for (const { record } of batch) {
    const { session, created } = await upsertSession(context, {
      sessionId: record.sessionId,
      channel: record.channel,
      startedAt: record.startedAt ?? null,
      metadata: record.metadata ?? null,
      ...(record.threadId !== undefined ? { threadId: record.threadId } : {}),
    });
    sessions.push(session);
    if (created) summary.sessionsCreated += 1;
    else summary.sessionsExisting += 1;
  }
  // Appends in statements of at most messagesPerStatement messages; a longer session is split across statements.
  let pending: { sessionKey: string; messages: NewMessage[] }[] = [];
  let pendingCount = 0;
  const append = async () => {
    if (pendingCount === 0) return;
    for (const outcome of await appendMessageBatches(context, pending, { onlyActive: false })) {
      if (outcome.outcome !== 'appended') throw new Error(`Appending to a session just upserted found it ${outcome.outcome}.`);
      for (const duplicate of outcome.duplicate) summary[duplicate ? 'messagesDuplicate' : 'messagesWritten'] += 1;
    }
    pending = [];
    pendingCount = 0;
  };
  batch.forEach(({ messages }, index) => {
    for (let start = 0; start < messages.length; start += messagesPerStatement) {
      pending.push({ sessionKey: sessions[index]!.id, messages: messages.slice(start, start + messagesPerStatement) });
    }
  });
  // Regroup into statements of bounded size.
  const groups = pending;
  pending = [];
  for (const group of groups) {
    if (pendingCount + group.messages.length > messagesPerStatement) await append();
    pending.push(group);
    pendingCount += group.messages.length;
  }
  await append();
  // Ended sessions end as the line says (changeSessionStatus, the status write path), at endedAt, else at the newest message.
  for (const [index, { record, messages }] of batch.entries()) {
    if (record.status === SessionStatus.ACTIVE || sessions[index]!.status !== SessionStatus.ACTIVE) continue;
    const newest = messages.reduce<Date | null>(
      (latest, message) => (message.createdAt && (!latest || message.createdAt > latest) ? message.createdAt : latest),
      null,
    );
    const endedAt = record.endedAt ?? newest ?? record.startedAt ?? sessions[index]!.startedAt;
    const change = await changeSessionStatus(context, sessions[index]!.id, record.status, endedAt);
    if (change.outcome === 'changed') summary.sessionsEnded += 1;
  }
}

/** `["messages", "3", "content"]` as `messages[3].content`. */
function pathText(path: readonly string[]): string {
  return path.reduce((text, part) => (/^\d+$/.test(part) ? `${text}[${part}]` : text ? `${text}.${part}` : part), '');
}

/** The sessionId of a line that is not a valid record, when it is readable, for the report. */
function sessionIdOf(line: string): string | null {
  const match = /"sessionId"\s*:\s*"((?:[^"\\]|\\.){1,200})"/.exec(line);
  return match ? match[1]! : null;
}
