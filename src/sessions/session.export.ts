/**
 * A tenant's sessions and their messages as NDJSON (session.ndjson.ts), streamed with constant memory: sessions are
 * read in keyset pages of the sessions list (session.list.ts: the same filter as the sessions page, `totalCount`,
 * `sessionStats` and `usage`), oldest start first, and each page's messages in keyset chunks in the same order, each message already
 * serialised by PostgreSQL; a session line is written piece by piece, so neither a tenant nor a long session is held.
 * A message written without a client id (by SQL or the seed) is exported with its id as `clientMessageId`, so an
 * import of the file is idempotent too.
 */
import type { TenantContext } from '../core/context';
import { Prisma } from '../db/client';
import { keysetSql, keysetValue, type KeysetPosition } from '../db/sql';
import { sessionListWhere } from './session.list';
import { sessionLineHead, SESSION_LINE_TAIL } from './session.ndjson';
import type { SessionFilter } from './session.inputs';

/** Where export lines go: resolves when the sink can take more (backpressure). */
export type ExportSink = (chunk: string) => Promise<void>;

/** Page sizes of an export; small defaults keep memory flat whatever the data. */
export interface ExportOptions {
  /** Sessions read per statement (default 200). */
  sessionsPerPage?: number;
  /** Messages read per statement (default 2000). */
  messagesPerChunk?: number;
}

/** What an export wrote. */
export interface ExportSummary {
  sessions: number;
  messages: number;
}

interface SessionRow {
  id: string;
  sessionId: string;
  channel: string;
  status: 'ACTIVE' | 'CLOSED' | 'EXPIRED';
  startedAt: Date;
  endedAt: Date | null;
  lastActivityAt: Date;
  metadata: Record<string, unknown>;
}

interface MessageChunkRow {
  /** The session's position in its page, from 1. */
  ordinal: number;
  createdAt: string;
  id: string;
  json: string;
}

// An instant as the format writes it: UTC with milliseconds (the columns' precision), like JSON.stringify of a Date.
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** Writes the tenant's sessions that `filter` selects, with their messages, to `sink`; one line per session. */
export async function exportSessions(
  context: TenantContext,
  filter: SessionFilter | null,
  sink: ExportSink,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const sessionsPerPage = options.sessionsPerPage ?? 200;
  const messagesPerChunk = options.messagesPerChunk ?? 2000;
  const summary: ExportSummary = { sessions: 0, messages: 0 };
  let seek: KeysetPosition | null = null;
  for (;;) {
    const page = await readSessionPage(context, filter, seek, sessionsPerPage);
    if (page.length === 0) break;
    const last = page[page.length - 1]!;
    seek = { value: last.startedAt.toISOString(), id: last.id };
    const sessions = page;
    const ids = sessions.map((session) => session.id);
    let chunk: MessageChunkRow[] = [];
    let position = 0;
    let done = false;
    const nextMessage = async (): Promise<MessageChunkRow | undefined> => {
      if (position === chunk.length) {
        if (done) return undefined;
        const after = chunk[chunk.length - 1] ?? null;
        chunk = await readMessageChunk(context, ids, after, messagesPerChunk);
        position = 0;
        done = chunk.length < messagesPerChunk;
        if (chunk.length === 0) return undefined;
      }
      return chunk[position];
    };
    for (const [index, session] of sessions.entries()) {
      let line = sessionLineHead({
        sessionId: session.sessionId,
        channel: session.channel,
        status: session.status,
        startedAt: session.startedAt,
        ...(session.endedAt ? { endedAt: session.endedAt } : {}),
        lastActivityAt: session.lastActivityAt,
        metadata: session.metadata,
      });
      let first = true;
      for (let message = await nextMessage(); message?.ordinal === index + 1; message = await nextMessage()) {
        line += first ? message.json : `,${message.json}`;
        first = false;
        position += 1;
        summary.messages += 1;
        if (line.length >= 1 << 16) {
          await sink(line);
          line = '';
        }
      }
      await sink(line + SESSION_LINE_TAIL);
      summary.sessions += 1;
    }
    if (page.length < sessionsPerPage) break;
  }
  return summary;
}

/** One keyset page of the sessions list in (started_at, id) order, ascending. */
function readSessionPage(context: TenantContext, filter: SessionFilter | null, seek: KeysetPosition | null, limit: number) {
  const keyset = keysetSql(
    Prisma.sql`s.started_at`,
    Prisma.sql`s.id`,
    false,
    { limit, backward: false, seek },
    seek ? keysetValue('timestamptz', seek.value) : null,
  );
  return context.db.queryRows<SessionRow>(Prisma.sql`
    SELECT s.id, s.external_id AS "sessionId", s.channel, s.status, s.started_at AS "startedAt", s.ended_at AS "endedAt",
           s.last_activity_at AS "lastActivityAt", s.metadata
      FROM sessions s
     WHERE ${sessionListWhere(context, filter)} AND ${keyset.where}
     ORDER BY ${keyset.orderBy}
     LIMIT ${limit}`);
}

/** The next chunk of the messages of these sessions, in (page position, created_at, id) order, each as its JSON line part. */
function readMessageChunk(context: TenantContext, sessionIds: readonly string[], after: MessageChunkRow | null, limit: number) {
  const seek = after
    ? Prisma.sql`WHERE (p.ordinal, m.created_at, m.id) > (${after.ordinal}::bigint, ${after.createdAt}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;
  return context.db.queryRows<MessageChunkRow>(Prisma.sql`
    SELECT p.ordinal::int AS ordinal, m.created_at::text AS "createdAt", m.id,
           (SELECT to_json(r) FROM (SELECT coalesce(m.client_message_id, m.id::text) AS "clientMessageId", m.role, m.content,
              to_char(m.created_at AT TIME ZONE 'UTC', ${Prisma.raw(ISO)}) AS "createdAt", m.metadata) r)::text AS json
      FROM unnest(${sessionIds}::uuid[]) WITH ORDINALITY AS p(id, ordinal)
      JOIN messages m ON m.session_id = p.id AND m.tenant_id = ${context.viewer.tenantId}
     ${seek}
     ORDER BY p.ordinal, m.created_at, m.id
     LIMIT ${limit}`);
}
