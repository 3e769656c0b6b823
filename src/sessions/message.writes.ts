import { Prisma } from '../db/client';
import { newRowIds } from '../db/row-ids';
import type { Config } from '../config';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { UserErrorCode } from '../graphql/user-error';
import { MessageRole } from './message.type';
import { fromRawMessage, fromRawSession, type RawMessage, type RawSession } from './session.repository';
import { checkId, checkMetadata, checkNotInFuture, MAX_APPEND_BATCH, nulCharacter, type WriteProblem } from './session.write-checks';
import { SessionStatus } from './session.type';

/**
 * The one write path of messages (the API's appendMessages, the importer): check a batch against the configured limits
 * without touching the database, then append it in one statement, idempotently by (tenant, session, clientMessageId).
 */

/** A message as a writer sends it; `role` is any case of a MessageRole name (`user`, `ASSISTANT`, …). */
export interface MessageInput {
  /** The writer's own id of the message, unique within its session: the idempotency key. */
  readonly clientMessageId: string;
  readonly role: string;
  readonly content: string;
  /** When it was written; default the time of the call. */
  readonly createdAt?: Date | null;
  readonly metadata?: Record<string, unknown> | null;
}

/** A message that passed {@link checkMessages}, ready to append. */
export interface NewMessage {
  readonly clientMessageId: string;
  readonly role: MessageRole;
  readonly content: string;
  readonly createdAt: Date | null;
  readonly metadata: Record<string, unknown>;
}

/** The MessageRole a writer's role names (any case, surrounding white space ignored), or null for none. */
export function parseRole(role: string): MessageRole | null {
  const name = role.trim().toUpperCase();
  return Object.values(MessageRole).includes(name as MessageRole) ? (name as MessageRole) : null;
}

/**
 * What is wrong with a batch of messages (paths below the input, e.g. `["messages", "3", "content"]`), or the messages
 * ready to append when nothing is: 1 to {@link MAX_APPEND_BATCH} of them, each with a non-blank client id unique in the
 * batch, a known role, content within INGEST_MAX_CONTENT_BYTES, metadata within the metadata limits and `createdAt` not
 * too far ahead of `now`.
 */
export function checkMessages(
  config: Config,
  messages: readonly MessageInput[],
  now: Date,
  options: { maxBatch?: number } = {},
): { problems: WriteProblem[]; messages: NewMessage[] } {
  const maxBatch = options.maxBatch ?? MAX_APPEND_BATCH;
  if (messages.length < 1 || messages.length > maxBatch) {
    return {
      problems: [
        {
          path: ['messages'],
          code: UserErrorCode.BATCH_SIZE,
          message: `messages must hold 1 to ${maxBatch} messages, received ${messages.length}.`,
        },
      ],
      messages: [],
    };
  }
  const problems: WriteProblem[] = [];
  const firstIndexOf = new Map<string, number>();
  const checked: NewMessage[] = [];
  messages.forEach((message, index) => {
    const at = (field: string) => ['messages', String(index), field];
    problems.push(...checkId(message.clientMessageId, at('clientMessageId'), 'clientMessageId'));
    const earlier = firstIndexOf.get(message.clientMessageId);
    if (earlier !== undefined) {
      problems.push({
        path: at('clientMessageId'),
        code: UserErrorCode.DUPLICATE_IN_CALL,
        message: `clientMessageId "${message.clientMessageId.slice(0, 100)}" is also the id of messages[${earlier}]; each message of a call needs its own.`,
      });
    } else firstIndexOf.set(message.clientMessageId, index);
    const role = parseRole(message.role);
    if (role === null) {
      problems.push({
        path: at('role'),
        code: UserErrorCode.UNKNOWN_ROLE,
        message: `role must be one of ${Object.values(MessageRole).join(', ')} (any case), received "${message.role.slice(0, 100)}".`,
      });
    }
    const bytes = Buffer.byteLength(message.content, 'utf8');
    if (bytes > config.ingest.maxContentBytes) {
      problems.push({
        path: at('content'),
        code: UserErrorCode.TOO_LONG,
        message: `content may be at most ${config.ingest.maxContentBytes} bytes (UTF-8), received ${bytes}.`,
      });
    } else if (message.content.includes('\u0000')) problems.push(nulCharacter(at('content')));
    if (message.createdAt) problems.push(...checkNotInFuture(config, message.createdAt, at('createdAt'), now));
    if (message.metadata) problems.push(...checkMetadata(config, message.metadata, at('metadata')));
    if (role !== null) {
      checked.push({
        clientMessageId: message.clientMessageId,
        role,
        content: message.content,
        createdAt: message.createdAt ?? null,
        metadata: message.metadata ?? {},
      });
    }
  });
  return problems.length > 0 ? { problems, messages: [] } : { problems, messages: checked };
}

/** Checked messages for one session, by its database key. */
export interface SessionMessages {
  readonly sessionKey: string;
  readonly messages: readonly NewMessage[];
}

/** What became of one session's messages. */
export type AppendOutcome =
  /** The tenant has no session with this key: nothing was written. */
  | { readonly outcome: 'not-found' }
  /** The session is CLOSED or EXPIRED and only ACTIVE ones were asked for: nothing was written. */
  | { readonly outcome: 'ended'; readonly session: SessionRow }
  | {
      readonly outcome: 'appended';
      /** The session after the append (lastActivityAt advanced). */
      readonly session: SessionRow;
      /**
       * One per message given, in that order: the row written now, or the one stored before under its client id. Empty
       * when `readStored: false` was asked for.
       */
      readonly messages: MessageRow[];
      /** Per message given: whether its client id was already stored (nothing new written for it). */
      readonly duplicate: boolean[];
    };

/** Options of {@link appendMessageBatches}. */
export interface AppendOptions {
  /** Append only to ACTIVE sessions (the API); false also appends to ended ones (an importer backfilling history). */
  readonly onlyActive?: boolean;
  /** The `createdAt` of messages given none. */
  readonly now?: Date;
  /**
   * Answer the messages' rows (default true). False answers only which were duplicates, and so never reads the rows
   * stored before (a bulk importer's rerun, where every message is one): one statement whatever the input.
   */
  readonly readStored?: boolean;
}

/**
 * Appends checked messages to the tenant's sessions, idempotently by (session, clientMessageId), in at most TWO
 * statements whatever the number of sessions and messages: one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`
 * that also locks the sessions (`FOR NO KEY UPDATE`, so a concurrent status change or append to the same session waits)
 * and advances each one's `lastActivityAt` to its newest message; then, only when some client ids were already stored,
 * one read of those rows. Each session's messages are written entirely or (not found, ended) not at all, and the first
 * statement is atomic as a whole. Messages without `createdAt` get `now`, and ids ascending in the order given, so
 * that they keep that order (the messages list sorts by time, then id). Returns one outcome per entry of `batches`.
 *
 * For a bulk importer: pass many sessions' messages at once (a few thousand rows per call keep the statement's
 * parameters small) with `onlyActive: false`.
 */
export async function appendMessageBatches(
  context: TenantContext,
  batches: readonly SessionMessages[],
  options: AppendOptions = {},
): Promise<AppendOutcome[]> {
  const tenantId = context.viewer.tenantId;
  const now = options.now ?? new Date();
  const onlyActive = options.onlyActive ?? true;
  const rows = batches.flatMap((batch) => batch.messages.map((message) => ({ sessionKey: batch.sessionKey, message })));
  // Assigned in ascending order: the order given breaks ties of equal createdAt.
  const ids = newRowIds(rows.length);
  const sessionKeys = [...new Set(batches.map((batch) => batch.sessionKey))];
  // Only the keys and times of the rows written come back: their role, content and metadata are the ones given.
  const [result] = await context.db.queryRows<{ sessions: string; inserted: string }>(Prisma.sql`
    WITH input AS (
      SELECT * FROM unnest(
        ${rows.map((row) => row.sessionKey)}::uuid[], ${ids}::uuid[], ${rows.map((row) => row.message.clientMessageId)}::text[],
        ${rows.map((row) => row.message.role)}::text[]::message_role[], ${rows.map((row) => row.message.content)}::text[],
        ${rows.map((row) => row.message.createdAt)}::timestamptz[], ${rows.map((row) => JSON.stringify(row.message.metadata))}::jsonb[]
      ) WITH ORDINALITY AS i(session_id, id, client_message_id, role, content, created_at, metadata, ordinal)
    ), locked AS (
      SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata
      FROM sessions s
      WHERE s.tenant_id = ${tenantId} AND s.id = ANY(${sessionKeys}::uuid[])
      ORDER BY s.id
      FOR NO KEY UPDATE
    ), inserted AS (
      INSERT INTO messages (id, tenant_id, session_id, client_message_id, role, content, created_at, metadata)
      SELECT i.id, l.tenant_id, i.session_id, i.client_message_id, i.role, i.content, coalesce(i.created_at, ${now}), i.metadata
      FROM input i JOIN locked l ON l.id = i.session_id
      ${onlyActive ? Prisma.sql`WHERE l.status = 'ACTIVE'` : Prisma.empty}
      ORDER BY i.ordinal
      ON CONFLICT (session_id, client_message_id) DO NOTHING
      RETURNING id, session_id, client_message_id, created_at
    ), touched AS (
      UPDATE sessions s SET last_activity_at = greatest(s.last_activity_at, newest.created_at)
      FROM (SELECT session_id, max(created_at) AS created_at FROM inserted GROUP BY session_id) newest
      -- Only where it moves: a session created with its final lastActivityAt (an importer's) is not written twice.
      WHERE s.id = newest.session_id AND s.tenant_id = ${tenantId} AND s.last_activity_at < newest.created_at
      RETURNING s.id, s.last_activity_at
    )
    SELECT
      (SELECT coalesce(json_agg(l), '[]') FROM (
        SELECT locked.id, locked.tenant_id, locked.external_id, locked.channel, locked.status, locked.started_at, locked.ended_at,
          coalesce(touched.last_activity_at, locked.last_activity_at) AS last_activity_at, locked.thread_id, locked.metadata
        FROM locked LEFT JOIN touched ON touched.id = locked.id) l)::text AS sessions,
      (SELECT coalesce(json_agg(json_build_array(inserted.id, inserted.session_id, inserted.client_message_id, inserted.created_at)), '[]')
        FROM inserted)::text AS inserted`);
  const sessions = new Map(
    (JSON.parse(result!.sessions) as JsonSession[]).map((row) => [
      row.id,
      fromRawSession({
        ...row,
        started_at: new Date(row.started_at),
        ended_at: row.ended_at === null ? null : new Date(row.ended_at),
        last_activity_at: new Date(row.last_activity_at),
      }),
    ]),
  );
  const stored = new Map<string, MessageRow>();
  const keyOf = (sessionKey: string, clientMessageId: string) => `${sessionKey}\u0000${clientMessageId}`;
  const fresh = new Set<string>();
  const given = new Map(rows.map((row) => [keyOf(row.sessionKey, row.message.clientMessageId), row.message]));
  for (const [id, sessionKey, clientMessageId, createdAt] of JSON.parse(result!.inserted) as [string, string, string, string][]) {
    const key = keyOf(sessionKey, clientMessageId);
    const message = given.get(key)!;
    stored.set(key, {
      id,
      tenantId,
      sessionId: sessionKey,
      role: message.role,
      content: message.content,
      createdAt: new Date(createdAt),
      metadata: message.metadata as Prisma.JsonObject,
      clientMessageId,
    });
    fresh.add(key);
  }
  const appendable = (session: SessionRow | undefined) => session !== undefined && (!onlyActive || session.status === SessionStatus.ACTIVE);
  const readStored = options.readStored ?? true;
  const missing = readStored
    ? rows.filter((row) => appendable(sessions.get(row.sessionKey)) && !stored.has(keyOf(row.sessionKey, row.message.clientMessageId)))
    : [];
  if (missing.length > 0) {
    // Stored before (by an earlier call, or a concurrent one this statement waited for): read them as they are now.
    const found = await context.db.queryRows<RawMessage>(Prisma.sql`
      SELECT id, tenant_id, session_id, role, content, created_at, metadata, client_message_id FROM messages
      WHERE tenant_id = ${tenantId}
        AND (session_id, client_message_id) IN (
          SELECT * FROM unnest(${missing.map((row) => row.sessionKey)}::uuid[], ${missing.map((row) => row.message.clientMessageId)}::text[]))`);
    for (const row of found) stored.set(keyOf(row.session_id, row.client_message_id!), fromRawMessage(row));
  }
  return batches.map((batch): AppendOutcome => {
    const session = sessions.get(batch.sessionKey);
    if (!session) return { outcome: 'not-found' };
    if (!appendable(session)) return { outcome: 'ended', session };
    const messages = (readStored ? batch.messages : []).map((message) => {
      const row = stored.get(keyOf(batch.sessionKey, message.clientMessageId));
      // Only a delete between the two statements leaves a client id without its row.
      if (!row) throw new Error(`Expected message "${message.clientMessageId}" of session ${batch.sessionKey} to be stored, found none`);
      return row;
    });
    return {
      outcome: 'appended',
      session,
      messages,
      duplicate: batch.messages.map((message) => !fresh.has(keyOf(batch.sessionKey, message.clientMessageId))),
    };
  });
}

/** {@link appendMessageBatches} for one session's messages. */
export async function appendMessageBatch(
  context: TenantContext,
  sessionKey: string,
  messages: readonly NewMessage[],
  options: AppendOptions = {},
): Promise<AppendOutcome> {
  const [outcome] = await appendMessageBatches(context, [{ sessionKey, messages }], options);
  return outcome!;
}

/** A sessions row as json_agg writes it: timestamps as RFC 3339 strings. */
type JsonSession = Omit<RawSession, 'started_at' | 'ended_at' | 'last_activity_at'> & {
  started_at: string;
  ended_at: string | null;
  last_activity_at: string;
};
