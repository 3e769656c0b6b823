import { Prisma } from '../db/client';
import { dateOf, nullableDateOf, parseJsonRows, type JsonRow } from '../db/json-rows';
import { keysetSql, keysetValue, selectPageAsJson } from '../db/sql';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import type { KeysetPage } from '../graphql/connection';
import type { TenantContext } from '../core/context';
import type { MessageRole } from './message.type';
import { OrderDirection } from '../graphql/order';
import type { SessionFilter, SessionOrder } from './session.inputs';
import { MESSAGE_ORDER_COLUMN, messageListWhere } from './message.list';
import { SESSION_ORDER_COLUMNS, sessionListWhere } from './session.list';
import { SessionStatus } from './session.type';

/** What a sessions page statement reads beside the page's rows. */
export interface SessionPageExtras {
  /** Each session's metadata; without it, rows carry null metadata (for selections that do not show it). */
  metadata: boolean;
  /** Each session's number of messages (a correlated count on the messages index). */
  messageCounts: boolean;
  /** The number of sessions matching the filter, whatever the page. */
  total: boolean;
}

/** A page of sessions with the extras asked for; an extra not asked for is null. */
export interface SessionPage {
  rows: SessionRow[];
  messageCounts: Map<string, number> | null;
  total: number | null;
}

/**
 * One page of the tenant's sessions in keyset order (`page.limit + 1` rows) with, when asked, their message
 * counts and the total, in ONE statement: the sessions table of a dashboard is a single round trip. The rows come
 * as one JSON value (see JsonRow).
 */
export async function listSessionPage(
  context: TenantContext,
  filter: SessionFilter | null | undefined,
  order: SessionOrder,
  page: KeysetPage,
  extras: SessionPageExtras,
): Promise<SessionPage> {
  const { rows, total } = await selectPageAsJson<RawSession & { message_count?: number }>(context.db, {
    table: 'sessions',
    alias: 's',
    columns: Prisma.sql`s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id,
      ${extras.metadata ? Prisma.sql`s.metadata` : Prisma.sql`NULL::jsonb AS metadata`}`,
    where: sessionListWhere(context, filter),
    orderColumn: SESSION_ORDER_COLUMNS[order.field].sql,
    descending: order.direction === OrderDirection.DESC,
    page,
    perRow: extras.messageCounts
      ? Prisma.sql`(SELECT count(*)::int FROM messages m WHERE m.session_id = page.id AND m.tenant_id = page.tenant_id) AS message_count`
      : undefined,
    total: extras.total,
  });
  return {
    rows: rows.map(fromRawSession),
    messageCounts: extras.messageCounts ? new Map(rows.map((row) => [row.id, row.message_count ?? 0])) : null,
    total,
  };
}

/** Number of the tenant's sessions matching the filter. */
export async function countSessions(context: TenantContext, filter: SessionFilter | null | undefined): Promise<number> {
  const [row] = await context.db.prisma.$queryRaw<
    { count: number }[]
  >`SELECT count(*)::int AS count FROM sessions s WHERE ${sessionListWhere(context, filter)}`;
  return row!.count;
}

/** The tenant's sessions with these database keys, in any order. */
export async function findSessionsByKeys(context: TenantContext, keys: readonly string[]): Promise<SessionRow[]> {
  const [result] = await context.db.queryRows<{ rows: string }>(Prisma.sql`
    SELECT coalesce(json_agg(s), '[]')::text AS rows
    FROM (SELECT id, tenant_id, external_id, channel, status, started_at, ended_at, last_activity_at, thread_id, metadata FROM sessions
          WHERE tenant_id = ${context.viewer.tenantId} AND id = ANY(${[...keys]}::uuid[])) s`);
  return parseJsonRows<RawSession>(result!.rows).map(fromRawSession);
}

/** The tenant's session with this bot session id, or null. */
export function findSessionByExternalId(context: TenantContext, externalId: string): Promise<SessionRow | null> {
  return context.db.prisma.session.findUnique({
    where: { tenantId_externalId: { tenantId: context.viewer.tenantId, externalId } },
  });
}

/** Message counts of these sessions, in one grouped statement. */
export async function countMessagesBySession(context: TenantContext, sessionKeys: readonly string[]): Promise<Map<string, number>> {
  const groups = await context.db.prisma.message.groupBy({
    by: ['sessionId'],
    where: { tenantId: context.viewer.tenantId, sessionId: { in: [...sessionKeys] } },
    _count: { _all: true },
  });
  return new Map(groups.map((group) => [group.sessionId, group._count._all]));
}

/** The newest message of each of these sessions, in one statement that seeks each session's index. */
export async function findLastMessages(context: TenantContext, sessionKeys: readonly string[]): Promise<Map<string, MessageRow>> {
  const rows = await context.db.prisma.$queryRaw<RawMessage[]>`
    SELECT m.id, m.tenant_id, m.session_id, m.role::text AS role, m.content, m.created_at, m.metadata, m.client_message_id
    FROM unnest(${[...sessionKeys]}::uuid[]) AS wanted(session_id)
    CROSS JOIN LATERAL (
      SELECT * FROM messages
      WHERE messages.session_id = wanted.session_id AND messages.tenant_id = ${context.viewer.tenantId}
      ORDER BY created_at DESC, id DESC
      LIMIT 1
    ) AS m`;
  return new Map(rows.map((row) => [row.session_id, fromRawMessage(row)]));
}

/** The tenant's messages with these database keys, in any order. */
export function findMessagesByKeys(context: TenantContext, keys: readonly string[]): Promise<MessageRow[]> {
  return context.db.prisma.message.findMany({ where: { tenantId: context.viewer.tenantId, id: { in: [...keys] } } });
}

/**
 * The same page (`page.limit + 1` rows of `role`, any when null, oldest first) of each of these sessions' messages, in
 * ONE statement that seeks each session's index: `messages(first: 10)` under a list of sessions is one round trip.
 */
export async function listMessagePages(
  context: TenantContext,
  sessionKeys: readonly string[],
  role: MessageRole | null | undefined,
  page: KeysetPage,
): Promise<Map<string, MessageRow[]>> {
  const keyset = keysetSql(
    Prisma.raw(`m.${MESSAGE_ORDER_COLUMN}`),
    Prisma.raw('m.id'),
    false,
    page,
    page.seek && keysetValue('timestamptz', page.seek.value),
  );
  const [result] = await context.db.queryRows<{ rows: string }>(Prisma.sql`
    SELECT coalesce(json_agg(paged ORDER BY paged.session_id, paged.ordinal), '[]')::text AS rows
    FROM unnest(${[...sessionKeys]}::uuid[]) AS wanted(session_id)
    CROSS JOIN LATERAL (
      SELECT m.id, m.tenant_id, m.session_id, m.role, m.content, m.created_at, m.metadata, m.client_message_id,
        row_number() OVER (ORDER BY ${keyset.orderBy}) AS ordinal
      FROM messages m
      WHERE ${messageListWhere(context, Prisma.sql`wanted.session_id`, role)} AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      LIMIT ${page.limit + 1}
    ) AS paged`);
  const pages = new Map<string, MessageRow[]>();
  for (const row of parseJsonRows<RawMessage>(result!.rows)) {
    const message = fromRawMessage(row);
    const list = pages.get(message.sessionId);
    if (list) list.push(message);
    else pages.set(message.sessionId, [message]);
  }
  return pages;
}

/**
 * The same page (`page.limit + 1` rows, oldest started first, by `started_at` then id) of the tenant's sessions linked
 * to each of these LangGraph threads, in ONE statement that seeks the `(tenant_id, thread_id, started_at, id)` index
 * once per thread: `sessions(first: 10)` under a list of conversations is one round trip.
 */
export async function listSessionPagesByThread(
  context: TenantContext,
  threadIds: readonly string[],
  page: KeysetPage,
): Promise<Map<string, SessionRow[]>> {
  const keyset = keysetSql(
    Prisma.raw('s.started_at'),
    Prisma.raw('s.id'),
    false,
    page,
    page.seek && keysetValue('timestamptz', page.seek.value),
  );
  const [result] = await context.db.queryRows<{ rows: string }>(Prisma.sql`
    SELECT coalesce(json_agg(paged ORDER BY paged.thread_id, paged.ordinal), '[]')::text AS rows
    FROM unnest(${[...threadIds]}::text[]) AS wanted(thread_id)
    CROSS JOIN LATERAL (
      SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata,
        row_number() OVER (ORDER BY ${keyset.orderBy}) AS ordinal
      FROM sessions s
      WHERE s.tenant_id = ${context.viewer.tenantId} AND s.thread_id = wanted.thread_id AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      LIMIT ${page.limit + 1}
    ) AS paged`);
  const pages = new Map<string, SessionRow[]>();
  for (const row of parseJsonRows<RawSession>(result!.rows)) {
    const session = fromRawSession(row);
    const list = pages.get(row.thread_id!);
    if (list) list.push(session);
    else pages.set(row.thread_id!, [session]);
  }
  return pages;
}

/** Number of the tenant's sessions linked to each of these LangGraph threads, in one grouped statement. */
export async function countSessionsByThread(context: TenantContext, threadIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await context.db.queryRows<{ thread_id: string; count: number }>(Prisma.sql`
    SELECT s.thread_id, count(*)::int AS count FROM sessions s
    WHERE s.tenant_id = ${context.viewer.tenantId} AND s.thread_id = ANY(${[...threadIds]}::text[])
    GROUP BY s.thread_id`);
  return new Map(rows.map((row) => [row.thread_id, row.count]));
}

/** Number of a session's messages with this role. */
export async function countMessages(context: TenantContext, sessionKey: string, role: MessageRole): Promise<number> {
  const [row] = await context.db.prisma.$queryRaw<
    { count: number }[]
  >`SELECT count(*)::int AS count FROM messages m WHERE ${messageListWhere(context, Prisma.sql`${sessionKey}::uuid`, role)}`;
  return row!.count;
}

/** All messages of each of these sessions, oldest first, in one statement. */
export async function findMessagesOfSessions(context: TenantContext, sessionKeys: readonly string[]): Promise<Map<string, MessageRow[]>> {
  // As one JSON value from the pool: Prisma's decoding of each column of each row was a fifth of the CPU of a request
  // tracing 100 sessions (see docs/decisions/0005).
  const [result] = await context.db.queryRows<{ rows: string }>(Prisma.sql`
    SELECT coalesce(json_agg(m ORDER BY m.session_id, m.created_at, m.id), '[]')::text AS rows
    FROM (SELECT id, tenant_id, session_id, role, content, created_at, metadata, client_message_id FROM messages
          WHERE tenant_id = ${context.viewer.tenantId} AND session_id = ANY(${[...sessionKeys]}::uuid[])) m`);
  const bySession = new Map<string, MessageRow[]>();
  for (const row of parseJsonRows<RawMessage>(result!.rows).map(fromRawMessage)) {
    const list = bySession.get(row.sessionId);
    if (list) list.push(row);
    else bySession.set(row.sessionId, [row]);
  }
  return bySession;
}

/** The tenant's session with all of its messages (oldest first) in one statement, or null; the messages come as one JSON array. */
export async function findSessionWithMessages(
  context: TenantContext,
  key: string,
): Promise<{ session: SessionRow; messages: MessageRow[] } | null> {
  const [found] = await context.db.queryRows<RawSession & { messages: string }>(Prisma.sql`
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status::text AS status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata,
      (
        SELECT coalesce(json_agg(m ORDER BY m.created_at, m.id), '[]')::text
        FROM (SELECT id, tenant_id, session_id, role, content, created_at, metadata, client_message_id FROM messages
              WHERE session_id = s.id AND tenant_id = s.tenant_id) m
      ) AS messages
    FROM sessions s
    WHERE s.id = ${key}::uuid AND s.tenant_id = ${context.viewer.tenantId}`);
  if (!found) return null;
  return { session: fromRawSession(found), messages: parseJsonRows<RawMessage>(found.messages).map(fromRawMessage) };
}

/** Result of a status change: the session after it, or why nothing changed. */
export type StatusChange =
  { outcome: 'not-found' } | { outcome: 'unchanged' | 'changed'; session: SessionRow } | { outcome: 'illegal'; session: SessionRow };

/**
 * Changes an ACTIVE session to CLOSED or EXPIRED, setting endedAt. The update is conditional on the
 * status still being ACTIVE, so a concurrent change is never overwritten.
 */
export async function changeSessionStatus(
  context: TenantContext,
  key: string,
  status: SessionStatus,
  now = new Date(),
): Promise<StatusChange> {
  const tenantId = context.viewer.tenantId;
  const current = await context.db.prisma.session.findFirst({ where: { id: key, tenantId } });
  if (!current) return { outcome: 'not-found' };
  if (current.status === status) return { outcome: 'unchanged', session: current };
  if (current.status !== SessionStatus.ACTIVE || status === SessionStatus.ACTIVE) return { outcome: 'illegal', session: current };
  const [updated] = await context.db.prisma.session.updateManyAndReturn({
    where: { id: key, tenantId, status: SessionStatus.ACTIVE },
    data: { status, endedAt: now },
  });
  if (updated) return { outcome: 'changed', session: updated };
  // Someone else ended the session between our read and our write: report against what they wrote.
  const latest = await context.db.prisma.session.findFirst({ where: { id: key, tenantId } });
  if (!latest) return { outcome: 'not-found' };
  return latest.status === status ? { outcome: 'unchanged', session: latest } : { outcome: 'illegal', session: latest };
}

/** Sessions per status and per channel, and messages per UTC day, of the sessions matching the filter. */
export async function sessionStatistics(context: TenantContext, filter: SessionFilter | null | undefined) {
  const where = sessionListWhere(context, filter);
  const [byStatus, byChannel, perDay] = await Promise.all([
    context.db.prisma.$queryRaw<{ status: SessionStatus; count: number }[]>`
      SELECT s.status::text AS status, count(*)::int AS count FROM sessions s WHERE ${where} GROUP BY s.status ORDER BY s.status`,
    context.db.prisma.$queryRaw<{ channel: string; count: number }[]>`
      SELECT s.channel, count(*)::int AS count FROM sessions s WHERE ${where} GROUP BY s.channel`,
    context.db.prisma.$queryRaw<{ day: string; count: number }[]>`
      SELECT to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS count
      FROM messages m
      JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
      WHERE m.tenant_id = ${context.viewer.tenantId} AND ${where}
      GROUP BY 1
      ORDER BY 1`,
  ]);
  return {
    byStatus,
    byChannel: byChannel.sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel)),
    messagesPerDay: perDay,
  };
}

/** A sessions row as SQL returns it (snake_case). */
export interface RawSession {
  id: string;
  tenant_id: string;
  external_id: string;
  channel: string;
  status: SessionStatus;
  started_at: Date;
  ended_at: Date | null;
  last_activity_at: Date;
  thread_id: string | null;
  metadata: Prisma.JsonValue;
}

/** Maps a raw or JSON sessions row to its Prisma shape. */
export function fromRawSession(row: RawSession | JsonRow<RawSession>): SessionRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    externalId: row.external_id,
    channel: row.channel,
    status: row.status,
    startedAt: dateOf(row.started_at),
    endedAt: nullableDateOf(row.ended_at),
    lastActivityAt: dateOf(row.last_activity_at),
    threadId: row.thread_id,
    metadata: row.metadata,
  };
}

/** A messages row as SQL returns it (snake_case). */
export interface RawMessage {
  id: string;
  tenant_id: string;
  session_id: string;
  role: MessageRole;
  content: string;
  created_at: Date;
  metadata: Prisma.JsonValue;
  client_message_id: string | null;
}

/** Maps a raw or JSON messages row to its Prisma shape. */
export function fromRawMessage(row: RawMessage | JsonRow<RawMessage>): MessageRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    role: row.role,
    content: row.content,
    createdAt: dateOf(row.created_at),
    metadata: row.metadata,
    clientMessageId: row.client_message_id,
  };
}
