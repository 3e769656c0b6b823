import { Directive, Field, Float, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, type KeysetPage } from '../graphql/connection';
import { toGlobalId } from '../graphql/global-id';
import { Node } from '../graphql/node';
import { DateTime, LocalDate, NonNegativeInt, SafeInt } from '../graphql/scalars';
import { SessionStatus, type MessageRole } from '../generated/prisma/enums';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';

export { SessionStatus };
registerEnumType(SessionStatus, {
  name: 'SessionStatus',
  description: 'Lifecycle of a chat session. ACTIVE may become CLOSED or EXPIRED; both are final.',
  valuesConfig: {
    ACTIVE: { description: 'The conversation may still receive messages.' },
    CLOSED: { description: 'Ended on purpose (by the user, an agent or the API).' },
    EXPIRED: { description: 'Ended because it was idle for too long.' },
  },
});

/**
 * What a root resolver fetched with a session beyond its row, handed down to its fields: they use it when it is there
 * and load the rest through the per-request DataLoaders.
 */
export interface SessionPrefetch {
  /**
   * Its number of messages, when the statement counted them. A plain number lets GraphQL complete the row without a
   * promise per session and edge.
   */
  readonly messageCount?: number;
  /** All its messages, oldest first, when the statement brought them (for the trace); the count follows from them. */
  readonly messages?: readonly MessageRow[];
  /** One page of its messages (`limit + 1` rows in read order) as the `messages` field of the operation asks for it. */
  readonly messagePage?: PrefetchedMessagePage;
}

/** A page of a session's messages read with the session, and the arguments it answers. */
export interface PrefetchedMessagePage {
  readonly role: MessageRole | null;
  readonly page: KeysetPage;
  readonly rows: readonly MessageRow[];
}

/** A chat bot session as the API shows it. */
@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Node, description: 'A customer-service chat session with its messages and trace.' })
export class Session extends Node {
  /** The database key, for loaders and repositories; not a GraphQL field. */
  key!: string;

  /** What the statement that loaded it brought beyond the row; set once, when the object is made. Not a GraphQL field. */
  prefetched!: SessionPrefetch;

  @Field({ description: "The bot's own session id, unique within the tenant." })
  sessionId!: string;

  @Field({ description: 'Where the session takes place: web, app, api, phone, email, wechat, …' })
  channel!: string;

  @Field(() => SessionStatus, { description: 'Current lifecycle status.' })
  status!: SessionStatus;

  @Field(() => DateTime, { description: 'When the session started.' })
  startedAt!: Date;

  @Field(() => DateTime, { nullable: true, description: 'When the session was closed or expired; null while ACTIVE.' })
  endedAt!: Date | null;

  @Field(() => DateTime, { description: 'When the last message or event happened.' })
  lastActivityAt!: Date;

  @Field(() => Float, {
    description: 'Length in seconds: from start to end, or to the last activity while still ACTIVE.',
    deprecationReason: 'Use `durationMs`: every other duration of the API is in milliseconds.',
  })
  duration!: number;

  @Field(() => SafeInt, { description: 'Length in milliseconds: from start to end, or to the last activity while still ACTIVE.' })
  durationMs!: number;

  /**
   * Free-form data the bot stored with the session, when the statement that read the row read it (a GraphQL field of
   * the resolver, which loads it otherwise): turning JSONB into text is most of what a lookup by id costs PostgreSQL.
   */
  metadata?: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description:
      'LangGraph thread_id of the agent thread that served the session (the metadata key `threadId`, set by upsertSession or by SQL); null when none. See `conversation`.',
  })
  threadId!: string | null;

  /** The `metadata` field of a metadata column: an object (anything else, which no writer stores, shows as `{}`). */
  static metadataOf(metadata: unknown): Record<string, unknown> {
    return isObject(metadata) ? metadata : {};
  }

  /** Maps a database row to its GraphQL object. */
  static fromRow(row: SessionRow, prefetched: SessionPrefetch = {}): Session {
    const session = new Session();
    session.prefetched = prefetched.messages ? { messages: prefetched.messages, messageCount: prefetched.messages.length } : prefetched;
    session.key = row.id;
    session.id = toGlobalId('Session', row.id);
    session.sessionId = row.externalId;
    session.channel = row.channel;
    session.status = row.status;
    session.startedAt = row.startedAt;
    session.endedAt = row.endedAt;
    session.lastActivityAt = row.lastActivityAt;
    session.durationMs = Math.max(0, (row.endedAt ?? row.lastActivityAt).getTime() - row.startedAt.getTime());
    session.duration = session.durationMs / 1000;
    // The column is NOT NULL: null is a statement that did not read it.
    if (row.metadata !== null) session.metadata = Session.metadataOf(row.metadata);
    session.threadId = row.threadId;
    return session;
  }
}

@ObjectType({ simpleResolvers: true, description: 'A page of sessions.' })
export class SessionConnection extends Connection(Session, 'session') {}

@ObjectType({ simpleResolvers: true, description: 'Number of sessions with one status.' })
export class StatusCount {
  @Field(() => SessionStatus, { description: 'The status.' })
  status!: SessionStatus;

  @Field(() => NonNegativeInt, { description: 'Sessions with this status.' })
  count!: number;
}

@ObjectType({ simpleResolvers: true, description: 'Number of sessions on one channel.' })
export class ChannelCount {
  @Field({ description: 'The channel.' })
  channel!: string;

  @Field(() => NonNegativeInt, { description: 'Sessions on this channel.' })
  count!: number;
}

@ObjectType({ simpleResolvers: true, description: 'Number of messages sent on one UTC day.' })
export class DailyMessageCount {
  @Field(() => LocalDate, { description: 'The UTC day, YYYY-MM-DD.' })
  day!: string;

  @Field(() => NonNegativeInt, { description: 'Messages created that day in the matching sessions.' })
  count!: number;
}

@ObjectType({ simpleResolvers: true, description: 'Counts for dashboard tiles over the sessions matching a filter.' })
export class SessionStats {
  @Field(() => NonNegativeInt, { description: 'Sessions matching the filter.' })
  totalSessions!: number;

  @Field(() => [StatusCount], { description: 'Sessions per status (statuses without sessions are left out).' })
  byStatus!: StatusCount[];

  @Field(() => [ChannelCount], { description: 'Sessions per channel, most used first.' })
  byChannel!: ChannelCount[];

  @Field(() => [DailyMessageCount], { description: 'Messages of the matching sessions per UTC day, oldest first.' })
  messagesPerDay!: DailyMessageCount[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
