// The raw baseline of appendMessages: the same batch inserted with one INSERT … SELECT FROM unnest … ON CONFLICT DO
// NOTHING, joined to the session by its external id; no checks, no lock, no lastActivityAt, no answer but the count.
import type { Pool } from 'pg';

interface AppendVariables {
  input: {
    sessionId: string;
    messages: { clientMessageId: string; role: string; content: string; createdAt?: string | null; metadata?: object | null }[];
  };
}

/** Inserts the messages of `variables.input` into the tenant's session; answers how many were new. */
export async function appendMessages(pool: Pool, tenantId: string, variables: AppendVariables): Promise<unknown> {
  const { sessionId, messages } = variables.input;
  const result = await pool.query(
    `INSERT INTO messages (tenant_id, session_id, client_message_id, role, content, created_at, metadata)
     SELECT s.tenant_id, s.id, i.client_message_id, upper(i.role)::message_role, i.content, coalesce(i.created_at, now()), i.metadata
     FROM sessions s,
       unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[]) AS i(client_message_id, role, content, created_at, metadata)
     WHERE s.tenant_id = $1 AND s.external_id = $2
     ON CONFLICT (session_id, client_message_id) DO NOTHING`,
    [
      tenantId,
      sessionId,
      messages.map((message) => message.clientMessageId),
      messages.map((message) => message.role),
      messages.map((message) => message.content),
      messages.map((message) => message.createdAt ?? null),
      messages.map((message) => JSON.stringify(message.metadata ?? {})),
    ],
  );
  return { appendMessages: { appendedCount: result.rowCount ?? 0 } };
}
