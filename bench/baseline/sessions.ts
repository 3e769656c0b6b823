// The baseline's sessions table and session detail: one SQL statement each, JSON shaped exactly as
// the dashboard's SessionsTable and SessionDetail selections.
import type { Pool } from 'pg';
import { prepared } from './prepared';
import { keyOfGlobalId, toGlobalId } from './encoding';
import { connectionOf, keysetSql, pageRequest, type PageArguments } from './keyset';

interface SessionFilter {
  status?: string[] | null;
  channel?: string[] | null;
  sessionId?: string | null;
  startedAfter?: string | null;
  startedBefore?: string | null;
  lastActivityAfter?: string | null;
  lastActivityBefore?: string | null;
}

interface SessionsVariables extends PageArguments {
  filter?: SessionFilter | null;
  orderBy?: { field?: 'STARTED_AT' | 'LAST_ACTIVITY_AT'; direction?: 'ASC' | 'DESC' } | null;
}

interface SessionRow {
  id: string;
  external_id: string;
  channel: string;
  status: string;
  started_at: Date;
  ended_at: Date | null;
  last_activity_at: Date;
}

/** Conditions of a session filter over `sessions`, appending their parameters. */
function filterSql(filter: SessionFilter | null | undefined, params: unknown[]): string {
  const conditions = ['tenant_id = $1'];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  // One status with `=`, as convoql does, so that the page seeks the (tenant, status, started_at) index.
  if (filter?.status?.length === 1) add((p) => `status = ${p}::session_status`, filter.status[0]);
  else if (filter?.status?.length) add((p) => `status = ANY(${p}::session_status[])`, filter.status);
  if (filter?.channel?.length) add((p) => `channel = ANY(${p}::text[])`, filter.channel);
  if (filter?.sessionId != null) add((p) => `external_id = ${p}`, filter.sessionId);
  if (filter?.startedAfter) add((p) => `started_at >= ${p}::timestamptz`, filter.startedAfter);
  if (filter?.startedBefore) add((p) => `started_at < ${p}::timestamptz`, filter.startedBefore);
  if (filter?.lastActivityAfter) add((p) => `last_activity_at >= ${p}::timestamptz`, filter.lastActivityAfter);
  if (filter?.lastActivityBefore) add((p) => `last_activity_at < ${p}::timestamptz`, filter.lastActivityBefore);
  return conditions.join(' AND ');
}

function duration(row: { started_at: Date; ended_at: Date | null; last_activity_at: Date }): number {
  return Math.max(0, ((row.ended_at ?? row.last_activity_at).getTime() - row.started_at.getTime()) / 1000);
}

function jsonObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** `sessions(...)` of SessionsTable: the page, its message counts and the total, in one statement. */
export async function sessionsTable(pool: Pool, tenantId: string, variables: SessionsVariables) {
  const field = variables.orderBy?.field ?? 'STARTED_AT';
  const descending = (variables.orderBy?.direction ?? 'DESC') === 'DESC';
  const column = field === 'STARTED_AT' ? 'started_at' : 'last_activity_at';
  const listKey = `Session:${field}`;
  const page = pageRequest(variables, listKey);
  const params: unknown[] = [tenantId];
  const filter = filterSql(variables.filter, params);
  const keyset = keysetSql(column, descending, page, params);
  const result = await prepared<SessionRow & { total: number; message_count: number | null }>(
    pool,
    `WITH page AS (
       SELECT id, external_id, channel, status::text AS status, started_at, ended_at, last_activity_at
       FROM sessions WHERE ${filter} AND ${keyset.where}
       ORDER BY ${keyset.orderBy} LIMIT ${page.limit + 1}
     )
     SELECT total.n AS total, page.*,
       (SELECT count(*)::int FROM messages m WHERE m.tenant_id = $1 AND m.session_id = page.id) AS message_count
     FROM (SELECT count(*)::int AS n FROM sessions WHERE ${filter}) total
     LEFT JOIN page ON TRUE
     ORDER BY ${keyset.orderBy.replace(/(\w+) (ASC|DESC)/g, 'page.$1 $2')}`,
    params,
  );
  const rows = result.rows.filter((row) => row.id !== null);
  const { edges, pageInfo } = connectionOf(
    rows,
    page,
    listKey,
    (row) => ({ value: row[column].toISOString(), id: row.id }),
    (row) => ({
      id: toGlobalId('Session', row.id),
      sessionId: row.external_id,
      channel: row.channel,
      status: row.status,
      startedAt: row.started_at,
      lastActivityAt: row.last_activity_at,
      endedAt: row.ended_at,
      duration: duration(row),
      messageCount: row.message_count ?? 0,
    }),
  );
  return { sessions: { totalCount: result.rows[0]?.total ?? 0, pageInfo, edges } };
}

interface DetailRow extends SessionRow {
  metadata: unknown;
  message_id: string | null;
  role: string;
  content: string;
  created_at: Date;
  message_metadata: unknown;
}

/** `session(id)` of SessionDetail: the session with all its messages in one statement; page, count and trace from them. */
export async function sessionDetail(pool: Pool, tenantId: string, variables: { id: string; first?: number | null; after?: string | null }) {
  const key = keyOfGlobalId('Session', variables.id);
  if (key === null) return { session: null };
  const result = await prepared<DetailRow>(
    pool,
    `SELECT s.id, s.external_id, s.channel, s.status::text AS status, s.started_at, s.ended_at, s.last_activity_at, s.metadata,
       m.id AS message_id, m.role::text AS role, m.content, m.created_at, m.metadata AS message_metadata
     FROM sessions s
     LEFT JOIN LATERAL (
       SELECT id, role, content, created_at, metadata FROM messages
       WHERE messages.tenant_id = s.tenant_id AND messages.session_id = s.id
       ORDER BY created_at, id
     ) m ON TRUE
     WHERE s.id = $1 AND s.tenant_id = $2
     ORDER BY m.created_at, m.id`,
    [key, tenantId],
  );
  const session = result.rows[0];
  if (!session) return { session: null };
  const messages = result.rows.filter((row) => row.message_id !== null);
  const page = pageRequest({ first: variables.first, after: variables.after }, 'Message:CREATED_AT');
  const seek = page.seek;
  const after = seek
    ? messages.filter((row) => {
        const at = row.created_at.getTime() - new Date(seek.value).getTime();
        return at > 0 || (at === 0 && row.message_id! > seek.id);
      })
    : messages;
  const connection = connectionOf(
    after.slice(0, page.limit + 1),
    page,
    'Message:CREATED_AT',
    (row) => ({ value: row.created_at.toISOString(), id: row.message_id! }),
    (row) => ({
      id: toGlobalId('Message', row.message_id!),
      role: row.role,
      content: row.content,
      createdAt: row.created_at,
      metadata: jsonObject(row.message_metadata),
    }),
  );
  return {
    session: {
      id: toGlobalId('Session', session.id),
      sessionId: session.external_id,
      channel: session.channel,
      status: session.status,
      startedAt: session.started_at,
      endedAt: session.ended_at,
      lastActivityAt: session.last_activity_at,
      duration: duration(session),
      metadata: jsonObject(session.metadata),
      messageCount: messages.length,
      messages: {
        pageInfo: { hasNextPage: connection.pageInfo.hasNextPage, endCursor: connection.pageInfo.endCursor },
        nodes: connection.edges.map((edge) => edge.node),
      },
      trace: traceOf(messages),
    },
  };
}

interface RetrievalItem {
  messageId: string;
  at: Date;
  source: string;
  score: number | null;
  snippet: string | null;
}

interface ToolCallItem {
  messageId: string;
  at: Date;
  callId: string | null;
  name: string;
  arguments: unknown;
  result: unknown;
  status: 'SUCCESS' | 'ERROR';
  error: string | null;
  durationMs: number | null;
}

interface TraceErrorItem {
  messageId: string;
  at: Date;
  message: string;
  code: string | null;
}

/** The trace as convoql's buildTrace reads message metadata (entries of another shape are skipped). */
function traceOf(messages: readonly DetailRow[]) {
  const retrievals: RetrievalItem[] = [];
  const toolCalls: ToolCallItem[] = [];
  const errors: TraceErrorItem[] = [];
  for (const message of messages) {
    const metadata = message.message_metadata;
    if (!isRecord(metadata)) continue;
    const messageId = toGlobalId('Message', message.message_id!);
    const at = message.created_at;
    for (const hit of records(metadata.retrieval)) {
      const source = text(hit.source);
      if (source !== null) retrievals.push({ messageId, at, source, score: finite(hit.score), snippet: text(hit.snippet) });
    }
    for (const call of records(metadata.toolCalls)) {
      const name = text(call.name);
      if (name === null) continue;
      const failed = call.status === 'error' || call.status === 'ERROR';
      const durationMs = finite(call.durationMs);
      toolCalls.push({
        messageId,
        at,
        callId: text(call.id),
        name,
        arguments: call.arguments ?? null,
        result: call.result ?? null,
        status: failed ? 'ERROR' : 'SUCCESS',
        error: failed ? (text(call.error) ?? 'failed') : null,
        durationMs: durationMs !== null && durationMs >= 0 ? Math.round(durationMs) : null,
      });
    }
    for (const error of records(metadata.errors)) {
      const message_ = text(error.message);
      if (message_ === null) continue;
      const recordedAt = typeof error.at === 'string' ? new Date(error.at) : null;
      errors.push({
        messageId,
        at: recordedAt && !Number.isNaN(recordedAt.getTime()) ? recordedAt : at,
        message: message_,
        code: text(error.code),
      });
    }
  }
  errors.sort((a, b) => a.at.getTime() - b.at.getTime());
  return {
    counts: {
      retrievals: retrievals.length,
      toolCalls: toolCalls.length,
      failedToolCalls: toolCalls.filter((call) => call.status === 'ERROR').length,
      errors: errors.length,
    },
    retrievals,
    toolCalls,
    errors,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** `session(id) { id }` of SessionRef: whether the tenant has that session. */
export async function sessionRef(pool: Pool, tenantId: string, variables: { id: string }) {
  const key = keyOfGlobalId('Session', variables.id);
  if (key === null) return { session: null };
  const { rows } = await prepared<{ id: string }>(pool, 'SELECT id FROM sessions WHERE id = $1 AND tenant_id = $2', [key, tenantId]);
  return { session: rows[0] ? { id: toGlobalId('Session', rows[0].id) } : null };
}

/** `node(id) { id ... on Session { sessionId status } }` of NodeSession. */
export async function nodeSession(pool: Pool, tenantId: string, variables: { id: string }) {
  const key = keyOfGlobalId('Session', variables.id);
  if (key === null) return { node: null };
  const { rows } = await prepared<{ id: string; external_id: string; status: string }>(
    pool,
    'SELECT id, external_id, status::text AS status FROM sessions WHERE id = $1 AND tenant_id = $2',
    [key, tenantId],
  );
  const row = rows[0];
  return { node: row ? { id: toGlobalId('Session', row.id), sessionId: row.external_id, status: row.status } : null };
}

/** `_entities(representations) { ... on Session { id sessionId status } }` of SessionEntities: one statement for all. */
export async function sessionEntities(pool: Pool, tenantId: string, variables: { representations: { __typename: string; id: string }[] }) {
  const keys = variables.representations.map((representation) => keyOfGlobalId('Session', representation.id));
  const { rows } = await prepared<{ id: string; external_id: string; status: string }>(
    pool,
    'SELECT id, external_id, status::text AS status FROM sessions WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
    [tenantId, keys.filter((key) => key !== null)],
  );
  const byKey = new Map(rows.map((row) => [row.id, row]));
  return {
    _entities: keys.map((key) => {
      const row = key === null ? undefined : byKey.get(key);
      return row ? { id: toGlobalId('Session', row.id), sessionId: row.external_id, status: row.status } : null;
    }),
  };
}

interface PanelRow extends SessionRow {
  metadata: unknown;
  message_id: string | null;
  role: string;
  content: string;
  created_at: Date;
}

/** `session(id)` of SessionPanel: the session's fields and its first page of messages (no trace), in one statement. */
export async function sessionPanel(pool: Pool, tenantId: string, variables: { id: string; first?: number | null }) {
  const key = keyOfGlobalId('Session', variables.id);
  if (key === null) return { session: null };
  const page = pageRequest({ first: variables.first }, 'Message:CREATED_AT');
  const { rows } = await prepared<PanelRow>(
    pool,
    `SELECT s.id, s.external_id, s.channel, s.status::text AS status, s.started_at, s.ended_at, s.last_activity_at, s.metadata,
       m.id AS message_id, m.role::text AS role, m.content, m.created_at
     FROM sessions s
     LEFT JOIN LATERAL (
       SELECT id, role, content, created_at FROM messages
       WHERE messages.tenant_id = s.tenant_id AND messages.session_id = s.id
       ORDER BY created_at, id
       LIMIT $3
     ) m ON TRUE
     WHERE s.id = $1 AND s.tenant_id = $2
     ORDER BY m.created_at, m.id`,
    [key, tenantId, page.limit + 1],
  );
  const session = rows[0];
  if (!session) return { session: null };
  const connection = connectionOf(
    rows.filter((row) => row.message_id !== null),
    page,
    'Message:CREATED_AT',
    (row) => ({ value: row.created_at.toISOString(), id: row.message_id! }),
    (row) => ({ id: toGlobalId('Message', row.message_id!), role: row.role, content: row.content, createdAt: row.created_at }),
  );
  return {
    session: {
      id: toGlobalId('Session', session.id),
      sessionId: session.external_id,
      channel: session.channel,
      status: session.status,
      startedAt: session.started_at,
      endedAt: session.ended_at,
      lastActivityAt: session.last_activity_at,
      metadata: jsonObject(session.metadata),
      messages: {
        pageInfo: { hasNextPage: connection.pageInfo.hasNextPage, endCursor: connection.pageInfo.endCursor },
        nodes: connection.edges.map((edge) => edge.node),
      },
    },
  };
}
