import { Prisma } from '../db/client';
import type { Config } from '../config';
import type { Session as SessionRow } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { UserErrorCode } from '../graphql/user-error';
import { fromRawSession, type RawSession } from './session.repository';
import { checkId, checkMetadata, checkNotInFuture, THREAD_ID_METADATA_KEY, type WriteProblem } from './session.write-checks';

/**
 * The one write path of sessions from outside (the API's upsertSession, the importer): every function takes the tenant
 * context first, checks its input against the configured limits without touching the database, and writes in one
 * statement. Status changes stay in session.repository.ts (changeSessionStatus) and the expiry job.
 */

/** A session as a writer describes it; `sessionId` is the bot's own id, unique per tenant. */
export interface SessionUpsert {
  readonly sessionId: string;
  readonly channel: string;
  /** When the session started; default the time of the call (on creation; an update leaves it as it is). */
  readonly startedAt?: Date | null;
  /** Replaces the stored metadata when given (keeping the thread link unless `threadId` or the object names one). */
  readonly metadata?: Record<string, unknown> | null;
  /** Links the session to this LangGraph thread; null unlinks it; undefined keeps the link as it is. */
  readonly threadId?: string | null;
}

/** The session after an upsert, and whether the upsert created it. */
export interface SessionUpsertResult {
  readonly session: SessionRow;
  readonly created: boolean;
}

/** What is wrong with an upsert's input, checked against the configured limits (empty when nothing is). */
export function checkSessionUpsert(config: Config, input: SessionUpsert, now: Date): WriteProblem[] {
  const problems: WriteProblem[] = [];
  problems.push(...checkId(input.sessionId, ['sessionId'], 'sessionId'));
  problems.push(...checkId(input.channel, ['channel'], 'channel'));
  if (input.threadId != null) problems.push(...checkId(input.threadId, ['threadId'], 'threadId'));
  if (input.startedAt) problems.push(...checkNotInFuture(config, input.startedAt, ['startedAt'], now));
  if (input.metadata) problems.push(...checkMetadata(config, input.metadata, ['metadata']));
  const linked = input.metadata?.[THREAD_ID_METADATA_KEY];
  if (input.threadId === undefined && linked !== undefined && (typeof linked !== 'string' || linked.trim() === '')) {
    problems.push({
      path: ['metadata', THREAD_ID_METADATA_KEY],
      code: UserErrorCode.BLANK,
      message: `metadata.${THREAD_ID_METADATA_KEY} links the session to an agent thread and must be a non-empty string, received ${JSON.stringify(linked).slice(0, 100)}.`,
    });
  }
  return problems;
}

/**
 * Creates the tenant's session with this `sessionId`, or updates it: its channel, and its start, metadata and thread
 * when given. One statement (`INSERT … ON CONFLICT DO UPDATE`), so concurrent upserts of one id never fail and never
 * create two sessions. Neither the status nor `lastActivityAt` changes on update (messages advance it); a session
 * created here is ACTIVE with `lastActivityAt` = `startedAt`. Check the input with {@link checkSessionUpsert} first.
 */
export async function upsertSession(context: TenantContext, input: SessionUpsert, now = new Date()): Promise<SessionUpsertResult> {
  const metadataGiven = input.metadata != null;
  const startedAt = input.startedAt ?? now;
  // The thread link lives in the metadata (the column is generated from it): what to do with the key on both paths.
  const link =
    typeof input.threadId === 'string'
      ? Prisma.sql`jsonb_build_object(${THREAD_ID_METADATA_KEY}::text, ${input.threadId}::text)`
      : Prisma.sql`'{}'::jsonb`;
  const unlink = input.threadId === null ? Prisma.sql` - ${THREAD_ID_METADATA_KEY}::text` : Prisma.empty;
  const inserted = Prisma.sql`(${JSON.stringify(input.metadata ?? {})}::jsonb${unlink} || ${link})`;
  // On update: the new metadata (or the stored one); an omitted threadId keeps the stored link unless the new metadata names one.
  const keep =
    input.threadId === undefined && metadataGiven
      ? Prisma.sql` || (CASE WHEN NOT (EXCLUDED.metadata ? ${THREAD_ID_METADATA_KEY}::text) AND sessions.metadata ? ${THREAD_ID_METADATA_KEY}::text
            THEN jsonb_build_object(${THREAD_ID_METADATA_KEY}::text, sessions.metadata -> ${THREAD_ID_METADATA_KEY}::text) ELSE '{}'::jsonb END)`
      : Prisma.empty;
  const updated = metadataGiven ? Prisma.sql`EXCLUDED.metadata${keep}` : Prisma.sql`(sessions.metadata${unlink} || ${link})`;
  const [row] = await context.db.queryRows<RawSession & { created: boolean }>(Prisma.sql`
    INSERT INTO sessions AS sessions (tenant_id, external_id, channel, started_at, last_activity_at, metadata)
    VALUES (${context.viewer.tenantId}, ${input.sessionId}, ${input.channel}, ${startedAt}, ${startedAt}, ${inserted})
    ON CONFLICT (tenant_id, external_id) DO UPDATE SET
      channel = EXCLUDED.channel,
      started_at = ${input.startedAt ? Prisma.sql`EXCLUDED.started_at` : Prisma.sql`sessions.started_at`},
      last_activity_at = greatest(sessions.last_activity_at, ${input.startedAt ? Prisma.sql`EXCLUDED.started_at` : Prisma.sql`sessions.started_at`}),
      metadata = ${updated}
    RETURNING id, tenant_id, external_id, channel, status::text AS status, started_at, ended_at, last_activity_at, thread_id, metadata,
      (xmax = 0) AS created`);
  return { session: fromRawSession(row!), created: row!.created };
}
