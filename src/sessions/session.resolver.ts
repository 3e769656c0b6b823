import type { GraphQLResolveInfo } from 'graphql';
import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Info,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { ConnectionArgs, toConnection, toKeysetPage, type ConnectionValue, type KeysetPage } from '../graphql/connection';
import { NotFoundError } from '../graphql/errors';
import { fromGlobalIdOf } from '../graphql/global-id';
import { selectedFieldArguments, selectsField } from '../graphql/lookahead';
import { JSONObject, NonNegativeInt } from '../graphql/scalars';
import { toUserError, UserError, UserErrorCode } from '../graphql/user-error';
import { asTenantContext, type RequestContext } from '../core/context';
import { Message, MessageConnection, MessageRole } from './message.type';
import { OrderDirection } from '../graphql/order';
import {
  assertValidSessionFilter,
  SessionFilter,
  SessionOrder,
  SessionOrderField,
  UpdateSessionStatusInput,
  UpsertSessionInput,
} from './session.inputs';
import { checkSessionUpsert, upsertSession } from './session.writes';
import {
  changeSessionStatus,
  countMessages,
  countSessions,
  findSessionByExternalId,
  findSessionsByKeys,
  findSessionWithMessagePage,
  findSessionWithMessages,
  listSessionPage,
  sessionStatistics,
} from './session.repository';
import { sessionOrderColumn } from './session.list';
import { loadMessagePage } from './session.loaders';
import { Session, SessionConnection, SessionStats } from './session.type';
import { buildTrace } from './trace.builder';
import { SessionTrace } from './trace.type';

@ArgsType()
class SessionsArgs extends ConnectionArgs {
  @Field(() => SessionFilter, { nullable: true, description: 'Which sessions to include.' })
  filter?: SessionFilter | null;

  @Field(() => SessionOrder, { nullable: true, description: 'Order of the list; default newest started first.' })
  orderBy?: SessionOrder | null;
}

@ArgsType()
class MessagesArgs extends ConnectionArgs {
  @Field(() => MessageRole, { nullable: true, description: 'Only messages with this role.' })
  role?: MessageRole | null;
}

@ObjectType({ simpleResolvers: true, description: 'Result of upsertSession.' })
class UpsertSessionPayload {
  @Field({ description: 'True when this call created the session, false when it existed (and was updated) or nothing was written.' })
  created!: boolean;

  @Field(() => Session, { nullable: true, description: 'The session after the call; null when userErrors is not empty.' })
  session!: Session | null;

  @Field(() => [UserError], { description: 'Why nothing was written; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'Result of updateSessionStatus.' })
class UpdateSessionStatusPayload {
  @Field(() => Session, { nullable: true, description: 'The session after the change (unchanged when userErrors is not empty).' })
  session!: Session | null;

  @Field(() => [UserError], { description: 'Why nothing changed; empty on success.' })
  userErrors!: UserError[];
}

/**
 * Whether root resolvers fetch in their own statement what nested fields would load (message counts, a session's
 * messages). Switched off with DataLoader batching, by the benchmark, to show what both buy together.
 */
function prefetches(context: RequestContext): boolean {
  return !context.config.graphql.loadPerField;
}

/**
 * The role and page of the `messages` field selected (once) under a session, so that the session's statement can read
 * that page too; null when it is not selected, or its arguments are not valid (its own resolver reports them).
 */
function messagePageSelected(info: GraphQLResolveInfo): { role: MessageRole | null; page: KeysetPage } | null {
  const args = selectedFieldArguments(info, ['messages']) as (MessagesArgs & ConnectionArgs) | null;
  if (!args) return null;
  try {
    return { role: args.role ?? null, page: toKeysetPage(args, MESSAGE_LIST_KEY) };
  } catch {
    return null;
  }
}

const MESSAGE_LIST_KEY = 'Message:CREATED_AT';

const DEFAULT_ORDER: SessionOrder = { field: SessionOrderField.STARTED_AT, direction: OrderDirection.DESC };

function messageCountOf(session: Session, context: RequestContext): number | Promise<number> {
  return session.prefetched.messageCount ?? context.loaders.messageCountBySession.load(session.key);
}

/**
 * Fields of Session resolved once per row of a list, as plain functions that replace type-graphql's resolvers of them
 * in the schema: its wrapper converts the root, collects the parameters and runs the middleware chain on every call,
 * for fields that need only the row and the context. Their @FieldResolver methods declare them (type, description).
 */
export const sessionFieldResolvers = {
  Session: {
    messageCount: (session: Session, _args: unknown, context: RequestContext) => messageCountOf(session, context),
  },
};

/** Queries, mutations and fields of chat sessions. */
@Resolver(() => Session)
export class SessionResolver {
  @Authorized('read')
  @Query(() => SessionConnection, { description: "The tenant's sessions, filtered and ordered, as a Relay connection." })
  async sessions(
    @Args() args: SessionsArgs,
    @Ctx() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ConnectionValue<Session>> {
    const tenant = asTenantContext(context);
    assertValidSessionFilter(args.filter);
    const order = args.orderBy ?? DEFAULT_ORDER;
    const listKey = `Session:${order.field}`;
    const page = toKeysetPage(args, listKey);
    const column = sessionOrderColumn(order);
    const selectsNodeField = (field: string) => selectsField(info, ['edges', 'node', field]) || selectsField(info, ['nodes', field]);
    const { rows, messageCounts, total } = await listSessionPage(tenant, args.filter, order, page, {
      // Turning each session's JSONB metadata into JSON costs PostgreSQL 0.2–0.4 ms a 50-row page; tables rarely show it.
      metadata: selectsNodeField('metadata'),
      messageCounts: prefetches(context) && selectsNodeField('messageCount'),
      total: selectsField(info, ['totalCount']),
    });
    return toConnection(
      rows,
      page,
      listKey,
      (row) => ({ value: row[column].toISOString(), id: row.id }),
      (row) => Session.fromRow(row, messageCounts ? { messageCount: messageCounts.get(row.id) ?? 0 } : {}),
      () => (total !== null ? Promise.resolve(total) : countSessions(tenant, args.filter)),
    );
  }

  @Authorized('read')
  @Query(() => Session, { nullable: true, description: 'One session by its global ID; null when it does not exist.' })
  async session(
    @Arg('id', () => ID, { description: 'Global ID of the session.' }) id: string,
    @Ctx() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Session | null> {
    const key = fromGlobalIdOf('Session', id);
    if (prefetches(context) && selectsField(info, ['trace'])) {
      // The trace reads every message anyway: one statement brings the session with all of them, and the messages
      // page and the count are then served from those rows.
      const found = await findSessionWithMessages(asTenantContext(context), key);
      return found && Session.fromRow(found.session, { messages: found.messages });
    }
    const messagePage = prefetches(context) ? messagePageSelected(info) : null;
    if (messagePage) {
      const found = await findSessionWithMessagePage(asTenantContext(context), key, messagePage.role, messagePage.page, {
        metadata: selectsField(info, ['metadata']),
        messageMetadata:
          selectsField(info, ['messages', 'nodes', 'metadata']) || selectsField(info, ['messages', 'edges', 'node', 'metadata']),
      });
      return found && Session.fromRow(found.session, { messagePage: { ...messagePage, rows: found.messages } });
    }
    const row = selectsField(info, ['metadata'])
      ? ((await findSessionsByKeys(asTenantContext(context), [key]))[0] ?? null)
      : await context.loaders.sessionByKey.load(key);
    return row && Session.fromRow(row);
  }

  @Authorized('read')
  @Query(() => Session, { nullable: true, description: "One session by the bot's own session id; null when it does not exist." })
  async sessionByExternalId(
    @Arg('sessionId', { description: "The bot's session id." }) sessionId: string,
    @Ctx() context: RequestContext,
  ): Promise<Session | null> {
    const row = await findSessionByExternalId(asTenantContext(context), sessionId);
    return row && Session.fromRow(row);
  }

  @Authorized('read')
  @Query(() => SessionStats, { description: 'Counts for dashboard tiles over the sessions matching the filter.' })
  async sessionStats(
    @Arg('filter', () => SessionFilter, { nullable: true, description: 'Which sessions to count.' }) filter: SessionFilter | null,
    @Ctx() context: RequestContext,
  ): Promise<SessionStats> {
    assertValidSessionFilter(filter);
    const stats = await sessionStatistics(asTenantContext(context), filter);
    return { ...stats, totalSessions: stats.byStatus.reduce((sum, group) => sum + group.count, 0) };
  }

  @Authorized('write')
  @Mutation(() => UpsertSessionPayload, {
    description:
      "Creates the tenant's session with this `sessionId`, or updates its channel and, when given, its start, metadata and thread link. Safe to retry and to run concurrently. A refused input writes nothing and comes back as userErrors.",
  })
  async upsertSession(@Arg('input') input: UpsertSessionInput, @Ctx() context: RequestContext): Promise<UpsertSessionPayload> {
    const tenant = asTenantContext(context);
    const now = new Date();
    const problems = checkSessionUpsert(context.config, input, now);
    if (problems.length > 0) return { created: false, session: null, userErrors: problems.map((problem) => toUserError(problem)) };
    const { session, created } = await upsertSession(tenant, input, now);
    return { created, session: Session.fromRow(session), userErrors: [] };
  }

  @Authorized('write')
  @Mutation(() => UpdateSessionStatusPayload, {
    description: 'Closes or expires an ACTIVE session (setting endedAt). Setting the current status again succeeds and changes nothing.',
  })
  async updateSessionStatus(
    @Arg('input') input: UpdateSessionStatusInput,
    @Ctx() context: RequestContext,
  ): Promise<UpdateSessionStatusPayload> {
    const change = await changeSessionStatus(asTenantContext(context), fromGlobalIdOf('Session', input.id, 'input.id'), input.status);
    if (change.outcome === 'not-found') throw new NotFoundError('Session', input.id);
    const session = Session.fromRow(change.session);
    if (change.outcome !== 'illegal') return { session, userErrors: [] };
    return {
      session,
      userErrors: [
        {
          code: UserErrorCode.ILLEGAL_STATUS_TRANSITION,
          message: `A ${change.session.status} session cannot become ${input.status}; only ACTIVE sessions can be closed or expired.`,
          field: ['input', 'status'],
        },
      ],
    };
  }

  @FieldResolver(() => JSONObject, { description: 'Free-form data the bot stored with the session.' })
  async metadata(@Root() session: Session, @Ctx() context: RequestContext): Promise<Record<string, unknown>> {
    return session.metadata ?? Session.metadataOf(await context.loaders.sessionMetadataByKey.load(session.key));
  }

  // Declares the field; sessionFieldResolvers resolves it.
  @FieldResolver(() => NonNegativeInt, { description: 'Number of messages in the session.' })
  messageCount(@Root() session: Session, @Ctx() context: RequestContext): number | Promise<number> {
    return messageCountOf(session, context);
  }

  @FieldResolver(() => MessageConnection, { description: 'The messages of the session, oldest first.' })
  async messages(@Root() session: Session, @Args() args: MessagesArgs, @Ctx() context: RequestContext): Promise<ConnectionValue<Message>> {
    const tenant = asTenantContext(context);
    const listKey = MESSAGE_LIST_KEY;
    const page = toKeysetPage(args, listKey);
    const { rows, total } = await loadMessagePage(context, session.key, session.prefetched, args.role, page);
    return toConnection(
      rows,
      page,
      listKey,
      (row) => ({ value: row.createdAt.toISOString(), id: row.id }),
      Message.fromRow,
      async () => total ?? (args.role ? countMessages(tenant, session.key, args.role) : this.messageCount(session, context)),
    );
  }

  @FieldResolver(() => Message, { nullable: true, description: 'The newest message; null for a session without messages.' })
  async lastMessage(@Root() session: Session, @Ctx() context: RequestContext): Promise<Message | null> {
    const row = await context.loaders.lastMessageBySession.load(session.key);
    return row && Message.fromRow(row);
  }

  @FieldResolver(() => SessionTrace, { description: 'Retrieval hits, tool calls and errors recorded in the messages, oldest first.' })
  async trace(@Root() session: Session, @Ctx() context: RequestContext): Promise<SessionTrace> {
    return buildTrace(session.prefetched.messages ?? (await context.loaders.messagesOfSession.load(session.key)));
  }
}
