import { Prisma } from '../db/client';
import { equalsAnyOf, keysetSql, keysetValue, pageLimit, readsDescending, selectPage } from '../db/sql';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import type { KeysetPage } from '../graphql/connection';
import type { TenantContext } from '../core/context';
import { groupBy } from '../core/loader-utils';
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
 * counts and the total, in ONE statement: the sessions table of a dashboard is a single round trip.
 */
export async function listSessionPage(
  context: TenantContext,
  filter: SessionFilter | null | undefined,
  order: SessionOrder,
  page: KeysetPage,
  extras: SessionPageExtras,
): Promise<SessionPage> {
  const { rows, total } = await selectPage<RawSession & { message_count?: number }>(context.db, {
    table: 'sessions',
    alias: 's',
    columns: Prisma.sql`s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id,
      ${extras.metadata ? Prisma.sql`s.metadata` : Prisma.sql`NULL::jsonb AS metadata`}`,
    where: sessionListWhere(context, filter),
    orderColumn: SESSION_ORDER_COLUMNS[order.field].sql,
    descending: order.direction === OrderDirection.DESC,
    page,
    perRow: extras.messageCounts ? Prisma.sql`(SELECT count(*)::int ${fromMessagesOfSession('page')}) AS message_count` : undefined,
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

/** The tenant's sessions with these database keys, in any order; without `metadata`, their rows' metadata is null. */
export async function findSessionsByKeys(
  context: TenantContext,
  keys: readonly string[],
  columns: Pick<SessionColumns, 'metadata'> = { metadata: true },
): Promise<SessionRow[]> {
  const rows = await context.db.queryRows<RawSession>(Prisma.sql`
    SELECT id, tenant_id, external_id, channel, status, started_at, ended_at, last_activity_at, thread_id,
      ${columns.metadata ? Prisma.sql`metadata` : Prisma.sql`NULL::jsonb AS metadata`}
    FROM sessions WHERE tenant_id = ${context.viewer.tenantId} AND ${equalsAnyOf('id', keys, 'uuid')}`);
  return rows.map(fromRawSession);
}

/** The metadata of the tenant's sessions with these database keys, by key. */
export async function findSessionMetadata(context: TenantContext, keys: readonly string[]): Promise<Map<string, unknown>> {
  const rows = await context.db.queryRows<{ id: string; metadata: unknown }>(Prisma.sql`
    SELECT id, metadata FROM sessions WHERE tenant_id = ${context.viewer.tenantId} AND ${equalsAnyOf('id', keys, 'uuid')}`);
  return new Map(rows.map((row) => [row.id, row.metadata]));
}

/** The tenant's session with this bot session id, or null. */
export async function findSessionByExternalId(context: TenantContext, externalId: string): Promise<SessionRow | null> {
  // From the pool (see docs/decisions/0005): every appendMessages call starts here.
  const [row] = await context.db.queryRows<RawSession>(Prisma.sql`
    SELECT id, tenant_id, external_id, channel, status, started_at, ended_at, last_activity_at, thread_id, metadata
    FROM sessions WHERE tenant_id = ${context.viewer.tenantId} AND external_id = ${externalId}`);
  return row ? fromRawSession(row) : null;
}

/** Message counts of these sessions, in one grouped statement. */
export async function countMessagesBySession(context: TenantContext, sessionKeys: readonly string[]): Promise<Map<string, number>> {
  // From the pool (see docs/decisions/0005): every session detail and live sessionChanged event selecting messageCount.
  const rows = await context.db.queryRows<{ session_id: string; count: number }>(Prisma.sql`
    SELECT session_id, count(*)::int AS count FROM messages
    WHERE tenant_id = ${context.viewer.tenantId} AND ${equalsAnyOf('session_id', sessionKeys, 'uuid')}
    GROUP BY session_id`);
  return new Map(rows.map((row) => [row.session_id, row.count]));
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
export async function findMessagesByKeys(context: TenantContext, keys: readonly string[]): Promise<MessageRow[]> {
  // From the pool: a message's `node(id)` and every live messageAdded event.
  const rows = await context.db.queryRows<RawMessage>(Prisma.sql`
    SELECT id, tenant_id, session_id, role::text AS role, content, created_at, metadata, client_message_id
    FROM messages WHERE tenant_id = ${context.viewer.tenantId} AND ${equalsAnyOf('id', keys, 'uuid')}`);
  return rows.map(fromRawMessage);
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
  const rows = await context.db.queryRows<RawMessage>(Prisma.sql`
    SELECT paged.* FROM unnest(${[...sessionKeys]}::uuid[]) WITH ORDINALITY AS wanted(session_id, position)
    CROSS JOIN LATERAL (
      SELECT m.id, m.tenant_id, m.session_id, m.role, m.content, m.created_at, m.metadata, m.client_message_id,
        row_number() OVER (ORDER BY ${keyset.orderBy}) AS ordinal
      FROM messages m
      WHERE ${messageListWhere(context, Prisma.sql`wanted.session_id`, role)} AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      ${pageLimit(page)}
    ) AS paged
    ORDER BY wanted.position, paged.ordinal`);
  return groupBy(rows.map(fromRawMessage), (message) => message.sessionId);
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
  const rows = await context.db.queryRows<RawSession>(Prisma.sql`
    SELECT paged.* FROM unnest(${[...threadIds]}::text[]) WITH ORDINALITY AS wanted(thread_id, position)
    CROSS JOIN LATERAL (
      SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata,
        row_number() OVER (ORDER BY ${keyset.orderBy}) AS ordinal
      FROM sessions s
      WHERE s.tenant_id = ${context.viewer.tenantId} AND s.thread_id = wanted.thread_id AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      ${pageLimit(page)}
    ) AS paged
    ORDER BY wanted.position, paged.ordinal`);
  return groupBy(rows.map(fromRawSession), (session) => session.threadId!);
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
  // From the pool: Prisma's decoding of each column of each row was a fifth of the CPU of a request tracing 100
  // sessions (see docs/decisions/0005).
  const rows = await context.db.queryRows<RawMessage>(Prisma.sql`
    SELECT id, tenant_id, session_id, role, content, created_at, metadata, client_message_id FROM messages
    WHERE tenant_id = ${context.viewer.tenantId} AND session_id = ANY(${[...sessionKeys]}::uuid[])
    ORDER BY session_id, created_at, id`);
  return groupBy(rows.map(fromRawMessage), (message) => message.sessionId);
}

/** The tenant's session with all of its messages (oldest first) in one statement, or null. */
export async function findSessionWithMessages(
  context: TenantContext,
  key: string,
): Promise<{ session: SessionRow; messages: MessageRow[] } | null> {
  // The session's columns ride on each of its messages' rows (one row of nulls for the messages when it has none).
  const rows = await context.db.queryRows<RawSession & MessageColumns>(Prisma.sql`
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata,
      m.id AS message_id, m.role AS message_role, m.content AS message_content, m.created_at AS message_created_at,
      m.metadata AS message_metadata, m.client_message_id AS message_client_message_id
    FROM sessions s
    LEFT JOIN LATERAL (
      SELECT id, role, content, created_at, metadata, client_message_id FROM messages
      WHERE session_id = s.id AND tenant_id = s.tenant_id
      ORDER BY created_at, id
    ) m ON TRUE
    WHERE s.id = ${key}::uuid AND s.tenant_id = ${context.viewer.tenantId}
    ORDER BY m.created_at, m.id`);
  if (rows.length === 0) return null;
  return { session: fromRawSession(rows[0]!), messages: messagesOfJoinedRows(rows) };
}

/** Which optional columns a session statement reads: what the operation selects. */
export interface SessionColumns {
  /** The session's metadata; null in the row without it. */
  metadata: boolean;
  /** Each message's metadata; null in the rows without it. */
  messageMetadata: boolean;
}

/**
 * The tenant's session with one page (`page.limit + 1` rows of `role`, any when null, oldest first) of its messages, in
 * ONE statement, or null: a session panel (its fields and first messages) is a single round trip, reading the
 * metadata only when the operation shows it.
 */
export async function findSessionWithMessagePage(
  context: TenantContext,
  key: string,
  role: MessageRole | null | undefined,
  page: KeysetPage,
  columns: SessionColumns,
): Promise<{ session: SessionRow; messages: MessageRow[] } | null> {
  const keyset = keysetSql(
    Prisma.raw(`m.${MESSAGE_ORDER_COLUMN}`),
    Prisma.raw('m.id'),
    false,
    page,
    page.seek && keysetValue('timestamptz', page.seek.value),
  );
  const direction = Prisma.raw(readsDescending(false, page) ? 'DESC' : 'ASC');
  const rows = await context.db.queryRows<RawSession & MessageColumns>(Prisma.sql`
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id,
      ${columns.metadata ? Prisma.sql`s.metadata` : Prisma.sql`NULL::jsonb AS metadata`},
      paged.id AS message_id, paged.role AS message_role, paged.content AS message_content, paged.created_at AS message_created_at,
      paged.metadata AS message_metadata, paged.client_message_id AS message_client_message_id
    FROM sessions s
    LEFT JOIN LATERAL (
      SELECT m.id, m.role, m.content, m.created_at, m.client_message_id,
        ${columns.messageMetadata ? Prisma.sql`m.metadata` : Prisma.sql`NULL::jsonb AS metadata`}
      FROM messages m
      WHERE ${messageListWhere(context, Prisma.sql`s.id`, role)} AND ${keyset.where}
      ORDER BY ${keyset.orderBy}
      ${pageLimit(page)}
    ) paged ON TRUE
    WHERE s.id = ${key}::uuid AND s.tenant_id = ${context.viewer.tenantId}
    ORDER BY paged.created_at ${direction}, paged.id ${direction}`);
  if (rows.length === 0) return null;
  return { session: fromRawSession(rows[0]!), messages: messagesOfJoinedRows(rows) };
}

/** Sessions read with their number of messages (when counted) and some of their messages: see findSessionsWithMessages. */
export interface SessionsWithMessages {
  /** The tenant's sessions among the keys, by key, without their metadata (null in the row, as `sessionByKey` reads them). */
  sessions: Map<string, { row: SessionRow; messageCount: number | undefined }>;
  /** The tenant's messages among the message keys that belong to one of those sessions. */
  messages: MessageRow[];
}

/**
 * The tenant's sessions with these keys, each with its number of messages when `messageCounts`, and those of its
 * messages whose keys are in `messageKeys`, in ONE statement: what a batch of live events reads (the sessions that
 * changed and the messages added to them), where three statements per batch were most of what delivering cost.
 */
export async function findSessionsWithMessages(
  context: TenantContext,
  sessionKeys: readonly string[],
  messageKeys: readonly string[],
  options: { messageCounts: boolean },
): Promise<SessionsWithMessages> {
  const rows = await context.db.queryRows<RawSession & MessageColumns & { message_count: number | null }>(Prisma.sql`
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id,
      NULL::jsonb AS metadata, ${options.messageCounts ? Prisma.sql`counted.message_count` : Prisma.sql`NULL::int AS message_count`},
      m.id AS message_id, m.role AS message_role, m.content AS message_content, m.created_at AS message_created_at,
      m.metadata AS message_metadata, m.client_message_id AS message_client_message_id
    FROM sessions s
    ${
      // Counted once per session, though the join repeats a session for each of its added messages.
      options.messageCounts
        ? Prisma.sql`CROSS JOIN LATERAL (SELECT count(*)::int AS message_count ${fromMessagesOfSession('s')}) counted`
        : Prisma.empty
    }
    LEFT JOIN messages m ON m.session_id = s.id AND m.tenant_id = s.tenant_id AND m.id = ANY(${[...messageKeys]}::uuid[])
    WHERE s.tenant_id = ${context.viewer.tenantId} AND s.id = ANY(${[...sessionKeys]}::uuid[])`);
  const sessions: SessionsWithMessages['sessions'] = new Map();
  for (const row of rows) {
    if (!sessions.has(row.id)) sessions.set(row.id, { row: fromRawSession(row), messageCount: row.message_count ?? undefined });
  }
  return { sessions, messages: messagesOfJoinedRows(rows) };
}

/**
 * `FROM … WHERE` of the messages of the session row `alias` (a trusted identifier), on the messages index. Its own alias
 * for messages, so that it never shadows a statement's `m`.
 */
function fromMessagesOfSession(alias: string): Prisma.Sql {
  const session = Prisma.raw(alias);
  return Prisma.sql`FROM messages session_message
    WHERE session_message.session_id = ${session}.id AND session_message.tenant_id = ${session}.tenant_id`;
}

/** A message's columns beside its session's in a joined row; null for a session without messages. */
interface MessageColumns {
  message_id: string | null;
  message_role: MessageRole;
  message_content: string;
  message_created_at: Date;
  message_metadata: Prisma.JsonValue;
  message_client_message_id: string | null;
}

function messagesOfJoinedRows(rows: readonly (RawSession & MessageColumns)[]): MessageRow[] {
  const messages: MessageRow[] = [];
  for (const row of rows) {
    if (row.message_id === null) continue;
    messages.push({
      id: row.message_id,
      tenantId: row.tenant_id,
      sessionId: row.id,
      role: row.message_role,
      content: row.message_content,
      createdAt: row.message_created_at,
      metadata: row.message_metadata,
      clientMessageId: row.message_client_message_id,
    });
  }
  return messages;
}

/** Result of a status change: the session after it, or why nothing changed. */
export type StatusChange =
  { outcome: 'not-found' } | { outcome: 'unchanged' | 'changed'; session: SessionRow } | { outcome: 'illegal'; session: SessionRow };

/**
 * Changes an ACTIVE session to CLOSED or EXPIRED, setting endedAt. The update is conditional on the
 * status still being ACTIVE, so a concurrent change is never overwritten. {@link changeSessionStatuses} with one item.
 */
export async function changeSessionStatus(
  context: TenantContext,
  key: string,
  status: SessionStatus,
  now = new Date(),
): Promise<StatusChange> {
  const [change] = await changeSessionStatuses(context, [{ key, status, endedAt: now }]);
  return change!;
}

/** One change of {@link changeSessionStatuses}. */
export interface StatusChangeItem {
  /** The session's database key. */
  readonly key: string;
  readonly status: SessionStatus;
  /** Its endedAt when it ends now. */
  readonly endedAt: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Changes many of the tenant's sessions from ACTIVE to CLOSED or EXPIRED (setting endedAt) in ONE statement: a
 * conditional `UPDATE … FROM unnest(…) WHERE status = 'ACTIVE'` that also reads the sessions it does not change, so
 * a concurrent change is never overwritten; only when one raced it (a session read ACTIVE but not updated), a second
 * statement reads those as they are now. Keys must be distinct. Returns one outcome per item, in the order given.
 */
export async function changeSessionStatuses(context: TenantContext, items: readonly StatusChangeItem[]): Promise<StatusChange[]> {
  const tenantId = context.viewer.tenantId;
  // A key that is no UUID names no session (and would fail the statement's cast).
  const valid = items.filter((item) => UUID.test(item.key));
  const rows =
    valid.length === 0
      ? []
      : await context.db.queryRows<RawSession & { changed: boolean }>(Prisma.sql`
    WITH input AS (
      SELECT * FROM unnest(${valid.map((item) => item.key)}::uuid[], ${valid.map((item) => item.status)}::text[]::session_status[],
        ${valid.map((item) => item.endedAt)}::timestamptz[]) AS i(id, status, ended_at)
    ), changed AS (
      UPDATE sessions s SET status = i.status, ended_at = i.ended_at
      FROM input i
      WHERE s.tenant_id = ${tenantId} AND s.id = i.id AND s.status = 'ACTIVE' AND i.status <> 'ACTIVE'
      RETURNING s.id, s.tenant_id, s.external_id, s.channel, s.status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id, s.metadata
    )
    SELECT id, tenant_id, external_id, channel, status::text AS status, started_at, ended_at, last_activity_at, thread_id, metadata,
      true AS changed
    FROM changed
    UNION ALL
    SELECT s.id, s.tenant_id, s.external_id, s.channel, s.status::text AS status, s.started_at, s.ended_at, s.last_activity_at, s.thread_id,
      s.metadata, false AS changed
    FROM sessions s
    WHERE s.tenant_id = ${tenantId} AND s.id IN (SELECT id FROM input) AND s.id NOT IN (SELECT id FROM changed)`);
  const found = new Map(rows.map((row) => [row.id, row]));
  const requested = new Map(items.map((item) => [item.key, item.status]));
  // Read ACTIVE (this statement's snapshot) but not changed: another writer ended it meanwhile. Read it as it is now.
  const raced = rows.filter((row) => !row.changed && row.status === SessionStatus.ACTIVE && requested.get(row.id) !== SessionStatus.ACTIVE);
  if (raced.length > 0) {
    const latest = await context.db.queryRows<RawSession>(Prisma.sql`
      SELECT id, tenant_id, external_id, channel, status::text AS status, started_at, ended_at, last_activity_at, thread_id, metadata
      FROM sessions WHERE tenant_id = ${tenantId} AND id = ANY(${raced.map((row) => row.id)}::uuid[])`);
    for (const row of raced) found.delete(row.id);
    for (const row of latest) found.set(row.id, { ...row, changed: false });
  }
  return items.map((item): StatusChange => {
    const row = found.get(item.key);
    if (!row) return { outcome: 'not-found' };
    const session = fromRawSession(row);
    if (row.changed) return { outcome: 'changed', session };
    if (session.status === item.status) return { outcome: 'unchanged', session };
    return { outcome: 'illegal', session };
  });
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

/** Maps a raw sessions row to its Prisma shape. */
export function fromRawSession(row: RawSession): SessionRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    externalId: row.external_id,
    channel: row.channel,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    lastActivityAt: row.last_activity_at,
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

/** Maps a raw messages row to its Prisma shape. */
export function fromRawMessage(row: RawMessage): MessageRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    role: row.role,
    content: row.content,
    createdAt: row.created_at,
    metadata: row.metadata,
    clientMessageId: row.client_message_id,
  };
}
