/**
 * The NDJSON format of `convoql import` and `convoql export`: one session per line, with its messages, keyed as the
 * write API keys them (the session by `sessionId`, its external id; a message by `clientMessageId`). Documented with an
 * example in examples/import.ndjson and the README. Export writes exactly what import reads, so a round trip keeps
 * every field the API shows.
 */
import { SessionStatus } from '../generated/prisma/enums';

/** One message of a session line. */
export interface MessageRecord {
  clientMessageId: string;
  /** USER, ASSISTANT, SYSTEM or TOOL (any case; checked by the write path). */
  role: string;
  content: string;
  createdAt?: Date;
  metadata?: Record<string, unknown>;
}

/** One line: a session and its messages. */
export interface SessionRecord {
  sessionId: string;
  channel: string;
  status: SessionStatus;
  startedAt?: Date;
  /** When a CLOSED or EXPIRED session ended (default: its newest message, or its start); ignored for ACTIVE ones. */
  endedAt?: Date;
  metadata?: Record<string, unknown>;
  /** The LangGraph thread that served the session, if any. */
  threadId?: string;
  messages: MessageRecord[];
}

/** A line that is not a valid session record; the message names the field (`messages[3].role`). */
export class RecordError extends Error {
  override name = 'RecordError';
}

const SESSION_KEYS = new Set([
  'sessionId',
  'channel',
  'status',
  'startedAt',
  'endedAt',
  'lastActivityAt',
  'metadata',
  'threadId',
  'messages',
]);
const MESSAGE_KEYS = new Set(['clientMessageId', 'role', 'content', 'createdAt', 'metadata']);
const STATUSES = Object.values(SessionStatus) as string[];

/** Parses and checks the shape of one line (limits of sizes and times are the write path's, checked when written). */
export function parseSessionLine(line: string): SessionRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new RecordError(`not JSON: ${(error as Error).message}`);
  }
  const object = asObject(value, 'the line');
  unknownKeys(object, SESSION_KEYS, '');
  const messages = object.messages ?? [];
  if (!Array.isArray(messages)) throw new RecordError(`messages: expected an array, received ${typeName(messages)}`);
  instant(object.lastActivityAt, 'lastActivityAt'); // checked, not read back (see SESSION_KEYS)
  const status = object.status ?? SessionStatus.ACTIVE;
  if (typeof status !== 'string' || !STATUSES.includes(status)) {
    throw new RecordError(`status: expected one of ${STATUSES.join(', ')}, received ${JSON.stringify(status)}`);
  }
  const startedAt = instant(object.startedAt, 'startedAt');
  const endedAt = instant(object.endedAt, 'endedAt');
  if (startedAt && endedAt && endedAt < startedAt) {
    throw new RecordError(
      `endedAt: expected an instant at or after startedAt (${startedAt.toISOString()}), received ${endedAt.toISOString()}`,
    );
  }
  return {
    sessionId: text(object.sessionId, 'sessionId'),
    channel: text(object.channel, 'channel'),
    status: status as SessionStatus,
    ...optional('startedAt', startedAt),
    ...optional('endedAt', endedAt),
    ...optional('metadata', metadata(object.metadata, 'metadata')),
    ...optional('threadId', object.threadId == null ? undefined : text(object.threadId, 'threadId')),
    messages: messages.map((message, index) => parseMessage(message, `messages[${index}]`)),
  };
}

function parseMessage(value: unknown, path: string): MessageRecord {
  const object = asObject(value, path);
  unknownKeys(object, MESSAGE_KEYS, `${path}.`);
  if (typeof object.role !== 'string') throw new RecordError(`${path}.role: expected a string, received ${typeName(object.role)}`);
  if (typeof object.content !== 'string') throw new RecordError(`${path}.content: expected a string, received ${typeName(object.content)}`);
  return {
    clientMessageId: text(object.clientMessageId, `${path}.clientMessageId`),
    role: object.role,
    content: object.content,
    ...optional('createdAt', instant(object.createdAt, `${path}.createdAt`)),
    ...optional('metadata', metadata(object.metadata, `${path}.metadata`)),
  };
}

/** One session line of an export: the session's fields and then its messages, written as they stream in. */
export function sessionLineHead(record: Omit<SessionRecord, 'messages'> & { lastActivityAt: Date }): string {
  const json = JSON.stringify({ ...record, messages: [] });
  return json.slice(0, -'[]}'.length) + '[';
}

/** The end of a session line begun by {@link sessionLineHead}. */
export const SESSION_LINE_TAIL = ']}\n';

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordError(
      `${path === 'the line' ? 'expected a JSON object per line' : `${path}: expected an object`}, received ${typeName(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

function unknownKeys(object: Record<string, unknown>, known: Set<string>, prefix: string): void {
  const unknown = Object.keys(object).find((key) => !known.has(key));
  if (unknown !== undefined) throw new RecordError(`${prefix}${unknown}: unknown field; expected some of ${[...known].join(', ')}`);
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new RecordError(`${path}: expected a non-empty string, received ${typeName(value)}`);
  return value;
}

function instant(value: unknown, path: string): Date | undefined {
  if (value == null) return undefined;
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new RecordError(`${path}: expected an ISO-8601 instant like 2026-11-20T10:00:00.000Z, received ${JSON.stringify(value)}`);
  }
  return date;
}

function metadata(value: unknown, path: string): Record<string, unknown> | undefined {
  if (value == null) return undefined;
  return asObject(value, path);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : `a ${typeof value}`;
}
