import { Prisma } from '../db/client';
import { newRowIds } from '../db/row-ids';
import type { Config } from '../config';
import type { Session as SessionRow } from '../generated/prisma/client';
import type { TenantContext } from '../core/context';
import { UserErrorCode } from '../graphql/user-error';
import { fromRawSession, type RawSession } from './session.repository';
import { SessionStatus } from './session.type';
import { checkId, checkMetadata, checkNotInFuture, THREAD_ID_METADATA_KEY, type WriteProblem } from './session.write-checks';

/**
 * The one write path of sessions from outside (the API's upsertSession, the importer): every function takes the tenant
 * context first, checks its input against the configured limits without touching the database, and writes in one
 * statement per batch. Status changes stay in session.repository.ts (changeSessionStatuses) and the expiry job.
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

/** How {@link upsertSessions} creates a session it does not find (an importer backfilling history). */
export interface CreatedAs {
  /** ACTIVE, CLOSED or EXPIRED. */
  readonly status: SessionStatus;
  /** When it ended; null for an ACTIVE one. */
  readonly endedAt: Date | null;
  /** Its last activity (at or after its start), e.g. its newest message's time, so appending them writes it no more. */
  readonly lastActivityAt: Date;
}

/** One session of {@link upsertSessions}. */
export interface SessionUpsertItem extends SessionUpsert {
  /**
   * Create the session as this says (default ACTIVE, lastActivityAt = startedAt); an existing session's status and
   * lastActivityAt are never changed here (that is changeSessionStatuses' and the appends'). The API never sets it.
   */
  readonly createAs?: CreatedAs;
}

/**
 * Creates the tenant's session with this `sessionId`, or updates it: its channel, and its start, metadata and thread
 * when given. One statement (`INSERT … ON CONFLICT DO UPDATE`), so concurrent upserts of one id never fail and never
 * create two sessions. Neither the status nor `lastActivityAt` changes on update (messages advance it); a session
 * created here is ACTIVE with `lastActivityAt` = `startedAt`. Check the input with {@link checkSessionUpsert} first.
 */
export async function upsertSession(context: TenantContext, input: SessionUpsert, now = new Date()): Promise<SessionUpsertResult> {
  const [result] = await upsertSessions(context, [input], now);
  return result!;
}

/**
 * {@link upsertSession} for many sessions at once: one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE … RETURNING`
 * per shape of input (which of startedAt, metadata and threadId are given: an importer's lines share one shape), so a
 * batch of any size costs one statement or a few. The `sessionId`s must be distinct (a statement cannot update one row
 * twice). Returns one result per item, in the order given.
 */
export async function upsertSessions(
  context: TenantContext,
  inputs: readonly SessionUpsertItem[],
  now = new Date(),
): Promise<SessionUpsertResult[]> {
  const shapes = new Map<string, { shape: UpsertShape; items: { input: SessionUpsertItem; index: number }[] }>();
  const seen = new Set<string>();
  inputs.forEach((input, index) => {
    if (seen.has(input.sessionId)) throw new Error(`upsertSessions: sessionId "${input.sessionId}" is given twice; pass each once.`);
    seen.add(input.sessionId);
    const shape: UpsertShape = {
      startedAtGiven: Boolean(input.startedAt),
      metadataGiven: input.metadata != null,
      thread: input.threadId === undefined ? 'keep' : input.threadId === null ? 'unlink' : 'link',
    };
    const key = `${shape.startedAtGiven}/${shape.metadataGiven}/${shape.thread}`;
    const group = shapes.get(key);
    if (group) group.items.push({ input, index });
    else shapes.set(key, { shape, items: [{ input, index }] });
  });
  const results: SessionUpsertResult[] = new Array<SessionUpsertResult>(inputs.length);
  for (const { shape, items } of shapes.values()) {
    const rows = await upsertShape(
      context,
      shape,
      items.map(({ input }) => input),
      now,
    );
    const byId = new Map(rows.map((row) => [row.external_id, row]));
    for (const { input, index } of items) {
      const row = byId.get(input.sessionId);
      if (!row) throw new Error(`upsertSessions: the statement returned no row for sessionId "${input.sessionId}"`);
      results[index] = { session: fromRawSession(row), created: row.created };
    }
  }
  return results;
}

/** What an upsert's statement depends on: which optional fields its inputs give. */
interface UpsertShape {
  readonly startedAtGiven: boolean;
  readonly metadataGiven: boolean;
  /** threadId undefined (keep the link), null (unlink) or a string (link). */
  readonly thread: 'keep' | 'unlink' | 'link';
}

async function upsertShape(context: TenantContext, shape: UpsertShape, inputs: readonly SessionUpsertItem[], now: Date) {
  // The metadata a new row gets: the given object (or {}), its thread link set or removed as threadId says. On update,
  // EXCLUDED.metadata is this same object, and EXCLUDED.metadata -> 'threadId' the link asked for.
  const inserted = inputs.map((input) => {
    const metadata: Record<string, unknown> = { ...(input.metadata ?? {}) };
    if (input.threadId === null) delete metadata[THREAD_ID_METADATA_KEY];
    else if (typeof input.threadId === 'string') metadata[THREAD_ID_METADATA_KEY] = input.threadId;
    return JSON.stringify(metadata);
  });
  const key = Prisma.sql`${THREAD_ID_METADATA_KEY}::text`;
  const started = shape.startedAtGiven ? Prisma.sql`EXCLUDED.started_at` : Prisma.sql`sessions.started_at`;
  let updated: Prisma.Sql;
  if (shape.metadataGiven) {
    // An omitted threadId keeps the stored link unless the new metadata names one.
    updated =
      shape.thread === 'keep'
        ? Prisma.sql`EXCLUDED.metadata || (CASE WHEN NOT (EXCLUDED.metadata ? ${key}) AND sessions.metadata ? ${key}
            THEN jsonb_build_object(${key}, sessions.metadata -> ${key}) ELSE '{}'::jsonb END)`
        : Prisma.sql`EXCLUDED.metadata`;
  } else {
    updated =
      shape.thread === 'keep'
        ? Prisma.sql`sessions.metadata`
        : shape.thread === 'unlink'
          ? Prisma.sql`sessions.metadata - ${key}`
          : Prisma.sql`sessions.metadata || jsonb_build_object(${key}, EXCLUDED.metadata -> ${key})`;
  }
  const startedAt = inputs.map((input) => input.startedAt ?? now);
  return context.db.queryRows<RawSession & { created: boolean }>(Prisma.sql`
    INSERT INTO sessions AS sessions (id, tenant_id, external_id, channel, started_at, last_activity_at, metadata, status, ended_at)
    SELECT i.id, ${context.viewer.tenantId}, i.external_id, i.channel, i.started_at, greatest(i.started_at, i.last_activity_at), i.metadata,
      i.status, i.ended_at
    FROM unnest(
      ${newRowIds(inputs.length)}::uuid[], ${inputs.map((input) => input.sessionId)}::text[], ${inputs.map((input) => input.channel)}::text[], ${startedAt}::timestamptz[],
      ${inserted}::jsonb[], ${inputs.map((input) => input.createAs?.status ?? SessionStatus.ACTIVE)}::text[]::session_status[],
      ${inputs.map((input) => input.createAs?.endedAt ?? null)}::timestamptz[],
      ${inputs.map((input) => input.createAs?.lastActivityAt ?? null)}::timestamptz[]
    ) AS i(id, external_id, channel, started_at, metadata, status, ended_at, last_activity_at)
    ON CONFLICT (tenant_id, external_id) DO UPDATE SET
      channel = EXCLUDED.channel,
      started_at = ${started},
      last_activity_at = greatest(sessions.last_activity_at, ${started}),
      metadata = ${updated}
    RETURNING id, tenant_id, external_id, channel, status::text AS status, started_at, ended_at, last_activity_at, thread_id, metadata,
      (xmax = 0) AS created`);
}
