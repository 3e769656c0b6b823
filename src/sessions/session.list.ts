import { Prisma } from '../db/client';
import { equalsAnyOf, plannedPerValues } from '../db/sql';
import type { TenantContext } from '../core/context';
import { messageMatches, STORED_DOCUMENT_CONFIG, webSearchQuery } from './message.list';
import { SessionOrderField, type SessionFilter, type SessionOrder } from './session.inputs';

/**
 * The sessions list, defined once: which sessions a filter selects (as SQL over the alias `s`), and the columns each
 * order sorts by (then by id, the keyset). The page, `totalCount`, `sessionStats`, `usage` and every later consumer
 * read sessions through this module, so they always agree. A new filter is a field of `SessionFilter` and a
 * condition here.
 */

/** The column each order sorts by: as the row (and so the cursor) names it, and as SQL names it (a column of `s`). */
export const SESSION_ORDER_COLUMNS = {
  [SessionOrderField.STARTED_AT]: { field: 'startedAt', sql: 'started_at' },
  [SessionOrderField.LAST_ACTIVITY_AT]: { field: 'lastActivityAt', sql: 'last_activity_at' },
} as const satisfies Record<SessionOrderField, { field: string; sql: string }>;

/** The column a session order sorts by, as a session row names it (for cursors). */
export function sessionOrderColumn(order: SessionOrder): 'startedAt' | 'lastActivityAt' {
  return SESSION_ORDER_COLUMNS[order.field].field;
}

/** The tenant's sessions that `filter` selects, over the alias `s`. */
export function sessionListWhere(context: TenantContext, filter: SessionFilter | null | undefined): Prisma.Sql {
  return Prisma.join([Prisma.sql`s.tenant_id = ${context.viewer.tenantId}`, ...sessionFilterConditions(context, filter)], ' AND ');
}

/** The conditions over the alias `s` that `filter` adds to the tenant's sessions; none when it restricts nothing. */
export function sessionFilterConditions(context: TenantContext, filter: SessionFilter | null | undefined): Prisma.Sql[] {
  const conditions: Prisma.Sql[] = [];
  // Compared as the enum, not as text, so the (tenant, status, …) indexes apply.
  if (filter?.status?.length) conditions.push(equalsAnyOf('s.status', filter.status, 'session_status'));
  if (filter?.channel?.length) conditions.push(Prisma.sql`s.channel = ANY(${filter.channel})`);
  if (filter?.sessionId != null) conditions.push(Prisma.sql`s.external_id = ${filter.sessionId}`);
  if (filter?.startedAfter) conditions.push(Prisma.sql`s.started_at >= ${filter.startedAfter}`);
  if (filter?.startedBefore) conditions.push(Prisma.sql`s.started_at < ${filter.startedBefore}`);
  if (filter?.lastActivityAfter) conditions.push(Prisma.sql`s.last_activity_at >= ${filter.lastActivityAfter}`);
  if (filter?.lastActivityBefore) conditions.push(Prisma.sql`s.last_activity_at < ${filter.lastActivityBefore}`);
  if (filter?.metadata) conditions.push(sessionMetadataContains(filter.metadata));
  if (filter?.text?.trim()) conditions.push(sessionTextMatches(context, filter.text));
  if (filter?.hasErrors != null)
    conditions.push(Prisma.sql`${filter.hasErrors ? Prisma.empty : Prisma.sql`NOT `}${anyMessage(MESSAGE_HAS_ERRORS)}`);
  if (filter?.toolName?.length) conditions.push(anyMessage(messageCallsToolIn(filter.toolName)));
  if (filter?.model?.length) conditions.push(anyMessage(messageModelIn(filter.model)));
  if (filter?.hasConversation != null)
    conditions.push(Prisma.sql`${filter.hasConversation ? Prisma.empty : Prisma.sql`NOT `}${SESSION_HAS_CONVERSATION}`);
  return conditions;
}

/** Session `s`'s metadata contains `metadata` (`@>`, served by the GIN index `sessions_metadata_idx`). */
export function sessionMetadataContains(metadata: Record<string, unknown>): Prisma.Sql {
  return plannedPerValues(Prisma.sql`s.metadata @> ${JSON.stringify(metadata)}::jsonb`);
}

/**
 * Session `s` has a message whose content matches the web-search query `text`. In the stored document's configuration
 * (the default) the session's document, the set of its messages' lexemes (`session_search_documents`, under a GIN
 * index with the tenant), selects the sessions that can match, so a session is one index entry and not its ~10
 * messages; for a query of one word or words joined by `or` the document proves the match, for any other (`&`, a
 * phrase, an exclusion: the words may be in different messages) the candidates' messages are tested. The migration
 * `session_search_document` defines the functions (docs/decisions/0019).
 */
function sessionTextMatches(context: TenantContext, text: string): Prisma.Sql {
  const messageMatching = anyMessage(messageMatches(context, text));
  if (context.config.search.textSearchConfig !== STORED_DOCUMENT_CONFIG) return messageMatching;
  const query = webSearchQuery(context, text);
  // Planned for its values, the query is a constant and the CASE keeps one branch: an exact query tests no message but
  // an overflowed session's.
  return plannedPerValues(Prisma.sql`EXISTS (
    SELECT 1 FROM session_search_documents d
    WHERE d.tenant_id = s.tenant_id AND d.session_id = s.id AND d.document @@ convoql_session_document_query(${query})
      AND CASE WHEN convoql_session_document_query_is_exact(${query})
        THEN NOT d.overflow OR convoql_session_message_matches(d.tenant_id, d.session_id, ${query})
        ELSE ${messageMatching} END)`);
}

/**
 * Session `s` names an agent thread the tenant's conversations hold: exactly when `Session.conversation` is not null
 * (a thread id of another tenant, or not synced yet, links nothing).
 */
const SESSION_HAS_CONVERSATION = Prisma.raw(
  `(s.thread_id IS NOT NULL AND EXISTS (SELECT 1 FROM conversations c WHERE c.thread_id = s.thread_id AND c.tenant_id = s.tenant_id))`,
);

/** Session `s` has a message `m` for which `condition` holds. */
function anyMessage(condition: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.tenant_id = s.tenant_id AND ${condition})`;
}

// Message metadata read exactly as Session.trace reads it (trace.builder.ts): `errors` and `toolCalls` must be
// arrays of objects, an error counts with a non-empty string `message`, a tool call with a non-empty string `name`, and
// a call failed when its status is "error" or "ERROR". Strict jsonpath does not wrap a non-array as lax mode would,
// and `@?` treats its errors (a missing key, a wrong type) as no match.
const MESSAGE_HAS_ERRORS = Prisma.raw(
  `(m.metadata @? 'strict $.errors[*] ? (@.message.type() == "string" && @.message != "")'` +
    ` OR m.metadata @? 'strict $.toolCalls[*] ? (@.name.type() == "string" && @.name != "" && (@.status == "error" || @.status == "ERROR"))')`,
);

/** Message `m` records a call of one of these tools (as Session.trace names them). */
function messageCallsToolIn(names: readonly string[]): Prisma.Sql {
  return Prisma.sql`EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(m.metadata->'toolCalls') = 'array' THEN m.metadata->'toolCalls' END) call
    WHERE jsonb_typeof(call->'name') = 'string' AND call->>'name' <> '' AND call->>'name' = ANY(${[...names]}::text[]))`;
}

/** Message `m` was written by one of these models (metadata `model`, a string). */
function messageModelIn(models: readonly string[]): Prisma.Sql {
  return Prisma.sql`(jsonb_typeof(m.metadata->'model') = 'string' AND m.metadata->>'model' = ANY(${[...models]}::text[]))`;
}
