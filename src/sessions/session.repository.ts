import { Prisma } from '../db/client';
import { dateOf, nullableDateOf, parseJsonRows, type JsonRow } from '../db/json-rows';
import { equalsAnyOf, selectPageAsJson } from '../db/sql';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import { keysetOrderBy, keysetWhere, type KeysetPage } from '../graphql/connection';
import type { TenantContext } from '../server/context';
import type { MessageRole } from './message.type';
import { OrderDirection } from '../graphql/order';
import { SessionOrderField, type SessionFilter, type SessionOrder } from './session.inputs';
import { SessionStatus } from './session.type';

/** The column a session order sorts by, as Prisma and as SQL name it. */
const ORDER_COLUMNS = {
  [SessionOrderField.STARTED_AT]: { field: 'startedAt', sql: 'started_at' },
  [SessionOrderField.LAST_ACTIVITY_AT]: { field: 'lastActivityAt', sql: 'last_activity_at' },
} as const;

/** The Prisma column a session order sorts by. */
export function sessionOrderColumn(order: SessionOrder): 'startedAt' | 'lastActivityAt' {
  return ORDER_COLUMNS[order.field].field;
}

function sessionWhere(context: TenantContext, filter: SessionFilter | null | undefined): Prisma.SessionWhereInput {
  return {
    tenantId: context.viewer.tenantId,
    ...(filter?.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter?.channel?.length ? { channel: { in: filter.channel } } : {}),
    ...(filter?.sessionId != null ? { externalId: filter.sessionId } : {}),
    ...(filter?.startedAfter || filter?.startedBefore
      ? { startedAt: { gte: filter.startedAfter ?? undefined, lt: filter.startedBefore ?? undefined } }
      : {}),
    ...(filter?.lastActivityAfter || filter?.lastActivityBefore
      ? { lastActivityAt: { gte: filter.lastActivityAfter ?? undefined, lt: filter.lastActivityBefore ?? undefined } }
      : {}),
  };
}

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
    columns: Prisma.sql`s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at,
      ${extras.metadata ? Prisma.sql`s.metadata` : Prisma.sql`NULL::jsonb AS metadata`}`,
    where: Prisma.sql`s.tenant_id = ${context.viewer.tenantId} AND ${sessionFilterSql(filter)}`,
    orderColumn: ORDER_COLUMNS[order.field].sql,
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
export function countSessions(context: TenantContext, filter: SessionFilter | null | undefined): Promise<number> {
  return context.db.prisma.session.count({ where: sessionWhere(context, filter) });
}

/** The tenant's sessions with these database keys, in any order. */
export function findSessionsByKeys(context: TenantContext, keys: readonly string[]): Promise<SessionRow[]> {
  return context.db.prisma.session.findMany({ where: { tenantId: context.viewer.tenantId, id: { in: [...keys] } } });
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
    SELECT m.id, m.tenant_id, m.session_id, m.role::text AS role, m.content, m.created_at, m.metadata
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

function messageWhere(context: TenantContext, sessionKey: string, role: MessageRole | null | undefined): Prisma.MessageWhereInput {
  return { tenantId: context.viewer.tenantId, sessionId: sessionKey, ...(role ? { role } : {}) };
}

/** One page of a session's messages, oldest first (`page.limit + 1` rows). */
export function listMessages(
  context: TenantContext,
  sessionKey: string,
  role: MessageRole | null | undefined,
  page: KeysetPage,
): Promise<MessageRow[]> {
  return context.db.prisma.message.findMany({
    where: { ...messageWhere(context, sessionKey, role), ...keysetWhere('createdAt', false, page, (value) => new Date(value)) },
    orderBy: keysetOrderBy('createdAt', false, page),
    take: page.limit + 1,
  });
}

/** Number of a session's messages with this role. */
export function countMessages(context: TenantContext, sessionKey: string, role: MessageRole): Promise<number> {
  return context.db.prisma.message.count({ where: messageWhere(context, sessionKey, role) });
}

/** All messages of each of these sessions, oldest first, in one statement. */
export async function findMessagesOfSessions(context: TenantContext, sessionKeys: readonly string[]): Promise<Map<string, MessageRow[]>> {
  const rows = await context.db.prisma.message.findMany({
    where: { tenantId: context.viewer.tenantId, sessionId: { in: [...sessionKeys] } },
    orderBy: [{ sessionId: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }],
  });
  const bySession = new Map<string, MessageRow[]>();
  for (const row of rows) {
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
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status::text AS status, s.started_at, s.ended_at, s.last_activity_at, s.metadata,
      (
        SELECT coalesce(json_agg(m ORDER BY m.created_at, m.id), '[]')::text
        FROM (SELECT id, tenant_id, session_id, role, content, created_at, metadata FROM messages
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
  const where = sessionWhere(context, filter);
  const [byStatus, byChannel, perDay] = await Promise.all([
    context.db.prisma.session.groupBy({ by: ['status'], where, _count: { _all: true }, orderBy: { status: 'asc' } }),
    context.db.prisma.session.groupBy({ by: ['channel'], where, _count: { _all: true }, orderBy: { channel: 'asc' } }),
    context.db.prisma.$queryRaw<{ day: string; count: number }[]>`
      SELECT to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS count
      FROM messages m
      JOIN sessions s ON s.id = m.session_id AND s.tenant_id = m.tenant_id
      WHERE m.tenant_id = ${context.viewer.tenantId} AND ${sessionFilterSql(filter)}
      GROUP BY 1
      ORDER BY 1`,
  ]);
  return {
    byStatus: byStatus.map((group) => ({ status: group.status, count: group._count._all })),
    byChannel: byChannel
      .map((group) => ({ channel: group.channel, count: group._count._all }))
      .sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel)),
    messagesPerDay: perDay,
  };
}

/** The same conditions as `sessionWhere`, over the alias `s`, for raw statements. */
function sessionFilterSql(filter: SessionFilter | null | undefined): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
  // Compared as the enum, not as text, so the (tenant, status, …) indexes apply.
  if (filter?.status?.length) conditions.push(equalsAnyOf('s.status', filter.status, 'session_status'));
  if (filter?.channel?.length) conditions.push(Prisma.sql`s.channel = ANY(${filter.channel})`);
  if (filter?.sessionId != null) conditions.push(Prisma.sql`s.external_id = ${filter.sessionId}`);
  if (filter?.startedAfter) conditions.push(Prisma.sql`s.started_at >= ${filter.startedAfter}`);
  if (filter?.startedBefore) conditions.push(Prisma.sql`s.started_at < ${filter.startedBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`s.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`s.last_activity_at < ${filter.lastActivityBefore}`);
  return Prisma.join(conditions, ' AND ');
}

interface RawSession {
  id: string;
  tenant_id: string;
  external_id: string;
  channel: string;
  status: SessionStatus;
  started_at: Date;
  ended_at: Date | null;
  last_activity_at: Date;
  metadata: Prisma.JsonValue;
}

function fromRawSession(row: RawSession | JsonRow<RawSession>): SessionRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    externalId: row.external_id,
    channel: row.channel,
    status: row.status,
    startedAt: dateOf(row.started_at),
    endedAt: nullableDateOf(row.ended_at),
    lastActivityAt: dateOf(row.last_activity_at),
    metadata: row.metadata,
  };
}

interface RawMessage {
  id: string;
  tenant_id: string;
  session_id: string;
  role: MessageRole;
  content: string;
  created_at: Date;
  metadata: Prisma.JsonValue;
}

function fromRawMessage(row: RawMessage | JsonRow<RawMessage>): MessageRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    role: row.role,
    content: row.content,
    createdAt: dateOf(row.created_at),
    metadata: row.metadata,
  };
}
