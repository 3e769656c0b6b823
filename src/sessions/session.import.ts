/**
 * `convoql import`: NDJSON session lines (session.ndjson.ts) written through the one write path of sessions and
 * messages (session.writes.ts, message.writes.ts: the API's upsertSession and appendMessages) and of status changes
 * (changeSessionStatus), so an import is checked against the same limits and is idempotent by the same keys: the session
 * by (tenant, sessionId), a message by (tenant, session, clientMessageId). Running it twice changes nothing.
 *
 * Lines stream through with constant memory: they are checked as they are read and gathered into batches bounded by
 * sessions, messages and bytes; each batch is written in ONE transaction of about three statements whatever its size
 * (the batch functions of the write path: upsertSessions, appendMessageBatches, changeSessionStatuses), while the
 * next batch is being read and checked. A session the line ends is created ended (so its messages are counted once,
 * under its final status, by the usage rollups' triggers); one that exists ACTIVE is ended by a status change.
 */
import type { TenantContext } from '../core/context';
import { appendMessageBatches, checkMessages, type NewMessage, type SessionMessages } from './message.writes';
import { changeSessionStatuses, type StatusChangeItem } from './session.repository';
import { parseSessionLine, RecordError, type SessionRecord } from './session.ndjson';
import { SessionStatus } from './session.type';
import { checkSessionUpsert, upsertSessions, type SessionUpsertItem } from './session.writes';
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
  /** Most sessions (lines) per batch (default 1000). */
  sessionsPerBatch?: number;
  /** Most messages per batch, and per append statement (default 10000). */
  messagesPerBatch?: number;
  /** Most characters of lines per batch (default 8 Mi), so that a batch of long messages stays small in memory. */
  charactersPerBatch?: number;
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
  const sessionsPerBatch = options.sessionsPerBatch ?? 1000;
  const messagesPerBatch = options.messagesPerBatch ?? 10_000;
  const charactersPerBatch = options.charactersPerBatch ?? 8 * 1024 * 1024;
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
  let batchIds = new Set<string>();
  let batchMessages = 0;
  let batchCharacters = 0;
  // One batch is written while the next is read and checked; at most one write at a time, so batches commit in order.
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    await writing;
    if (batch.length === 0) return;
    const full = batch;
    batch = [];
    batchIds = new Set();
    batchMessages = 0;
    batchCharacters = 0;
    writing = writeBatch(context, full, messagesPerBatch, summary).then(() => options.onProgress?.(summary));
    // Awaited by the next flush; a failure surfaces there, not as an unhandled rejection meanwhile.
    writing.catch(() => undefined);
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
        await writing;
        return { ...summary, stoppedAtLine: number };
      }
      continue;
    }
    if (
      batch.length > 0 &&
      (batch.length >= sessionsPerBatch ||
        batchMessages + checked.messages.length > messagesPerBatch ||
        batchCharacters + line.length > charactersPerBatch ||
        // One statement upserts each session once: a session named again starts the next batch.
        batchIds.has(checked.record.sessionId))
    )
      await flush();
    batch.push(checked);
    batchIds.add(checked.record.sessionId);
    batchMessages += checked.messages.length;
    batchCharacters += line.length;
  }
  await flush();
  await writing;
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

/**
 * Writes a batch of checked lines in one transaction: one upsert of all its sessions (those the line ends created
 * ended), one append of all their messages (in statements of `messagesPerStatement`), one status change of the sessions
 * that existed ACTIVE and that the line ends. The summary counts it once committed.
 */
async function writeBatch(context: TenantContext, batch: CheckedRecord[], messagesPerStatement: number, summary: ImportSummary) {
  const counts = { sessionsCreated: 0, sessionsExisting: 0, sessionsEnded: 0, messagesWritten: 0, messagesDuplicate: 0 };
  await context.db.transaction(async (db) => {
    const tx: TenantContext = { ...context, db };
    const now = new Date();
    // The newest message of each line (a message without createdAt is appended at `now`).
    const newest = batch.map(({ messages }) =>
      messages.reduce<Date | null>((latest, message) => {
        const at = message.createdAt ?? now;
        return !latest || at > latest ? at : latest;
      }, null),
    );
    // Ended sessions end as the line says, at endedAt, else at the newest message given a time, else at their start.
    const endedAt = batch.map(
      ({ record, messages }) =>
        record.endedAt ??
        messages.reduce<Date | null>(
          (latest, message) => (message.createdAt && (!latest || message.createdAt > latest) ? message.createdAt : latest),
          null,
        ) ??
        record.startedAt ??
        null,
    );
    const upserts = await upsertSessions(
      tx,
      batch.map(({ record }, index): SessionUpsertItem => {
        const ended = record.status !== SessionStatus.ACTIVE;
        const startedAt = record.startedAt ?? now;
        return {
          sessionId: record.sessionId,
          channel: record.channel,
          startedAt: record.startedAt ?? null,
          metadata: record.metadata ?? null,
          ...(record.threadId !== undefined ? { threadId: record.threadId } : {}),
          // Created as the line leaves it: ended, and active until its newest message (the append then writes it no more).
          createAs: {
            status: record.status,
            endedAt: ended ? (endedAt[index] ?? startedAt) : null,
            lastActivityAt: newest[index] && newest[index] > startedAt ? newest[index] : startedAt,
          },
        };
      }),
      now,
    );
    const ends: StatusChangeItem[] = [];
    upserts.forEach(({ session, created }, index) => {
      const { record } = batch[index]!;
      if (created) counts.sessionsCreated += 1;
      else counts.sessionsExisting += 1;
      if (record.status === SessionStatus.ACTIVE) return;
      if (created) counts.sessionsEnded += 1;
      else if (session.status === SessionStatus.ACTIVE) {
        ends.push({ key: session.id, status: record.status, endedAt: endedAt[index] ?? session.startedAt });
      }
    });
    // Appends in statements of at most messagesPerStatement messages; a longer session is split across statements.
    let pending: SessionMessages[] = [];
    let pendingCount = 0;
    const append = async () => {
      if (pendingCount === 0) return;
      for (const outcome of await appendMessageBatches(tx, pending, { onlyActive: false, readStored: false, now })) {
        if (outcome.outcome !== 'appended') throw new Error(`Appending to a session just upserted found it ${outcome.outcome}.`);
        for (const duplicate of outcome.duplicate) counts[duplicate ? 'messagesDuplicate' : 'messagesWritten'] += 1;
      }
      pending = [];
      pendingCount = 0;
    };
    for (const [index, { messages }] of batch.entries()) {
      for (let start = 0; start < messages.length; start += messagesPerStatement) {
        const part = messages.slice(start, start + messagesPerStatement);
        if (pendingCount + part.length > messagesPerStatement) await append();
        pending.push({ sessionKey: upserts[index]!.session.id, messages: part });
        pendingCount += part.length;
      }
    }
    await append();
    // Ended after their messages were appended, as a session that ends takes no more messages.
    if (ends.length > 0) {
      for (const change of await changeSessionStatuses(tx, ends)) if (change.outcome === 'changed') counts.sessionsEnded += 1;
    }
  });
  for (const [key, value] of Object.entries(counts)) summary[key as keyof typeof counts] += value;
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
