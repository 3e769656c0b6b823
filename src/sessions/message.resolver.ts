import { Arg, Authorized, Ctx, Field, FieldResolver, Mutation, ObjectType, Resolver, Root } from 'type-graphql';
import { asTenantContext, type RequestContext } from '../core/context';
import { NonNegativeInt } from '../graphql/scalars';
import { toUserError, UserError, UserErrorCode } from '../graphql/user-error';
import { AppendMessagesInput } from './message.inputs';
import { Message } from './message.type';
import { appendMessageBatch, checkMessages } from './message.writes';
import { findSessionByExternalId } from './session.repository';
import { checkId } from './session.write-checks';
import { Session } from './session.type';

@ObjectType({ simpleResolvers: true, description: 'Result of appendMessages.' })
class AppendMessagesPayload {
  @Field(() => Session, {
    nullable: true,
    description: 'The session after the call (lastActivityAt advanced to its newest message); null when it was not found.',
  })
  session!: Session | null;

  @Field(() => [Message], {
    description:
      'One per message of the input, in its order: the message written now, or the one already stored under its clientMessageId (a retry answers the same messages). Empty when userErrors is not empty.',
  })
  messages!: Message[];

  @Field(() => NonNegativeInt, { description: 'Messages written by this call.' })
  appendedCount!: number;

  @Field(() => NonNegativeInt, {
    description: 'Messages of the input whose clientMessageId was already stored: nothing new was written for them.',
  })
  duplicateCount!: number;

  @Field(() => [UserError], { description: 'Why nothing was written; empty on success.' })
  userErrors!: UserError[];
}

/** Writes and fields of messages that reach other objects. */
@Resolver(() => Message)
export class MessageResolver {
  @Authorized('write')
  @Mutation(() => AppendMessagesPayload, {
    description:
      "Appends 1 to 500 messages to one of the tenant's ACTIVE sessions, all or none, idempotently: a message whose clientMessageId the session already holds is not written again, so a retried call writes nothing new and answers the same messages. A refused input, an unknown session (NOT_FOUND) or an ended one (SESSION_ENDED) writes nothing and comes back as userErrors.",
  })
  async appendMessages(@Arg('input') input: AppendMessagesInput, @Ctx() context: RequestContext): Promise<AppendMessagesPayload> {
    const tenant = asTenantContext(context);
    const now = new Date();
    const refused = (userErrors: UserError[], session: Session | null = null): AppendMessagesPayload => ({
      session,
      messages: [],
      appendedCount: 0,
      duplicateCount: 0,
      userErrors,
    });
    const checked = checkMessages(context.config, input.messages, now);
    const problems = [...checkId(input.sessionId, ['sessionId'], 'sessionId'), ...checked.problems];
    if (problems.length > 0) return refused(problems.map((problem) => toUserError(problem)));
    const notFound = refused([
      {
        code: UserErrorCode.NOT_FOUND,
        message: `No session with sessionId "${input.sessionId}"; create it with upsertSession first.`,
        field: ['input', 'sessionId'],
      },
    ]);
    const found = await findSessionByExternalId(tenant, input.sessionId);
    if (!found) return notFound;
    const result = await appendMessageBatch(tenant, found.id, checked.messages, { now });
    if (result.outcome === 'not-found') return notFound;
    if (result.outcome === 'ended') {
      return refused(
        [
          {
            code: UserErrorCode.SESSION_ENDED,
            message: `Session "${input.sessionId}" is ${result.session.status} and takes no more messages.`,
            field: ['input', 'sessionId'],
          },
        ],
        Session.fromRow(result.session),
      );
    }
    const duplicateCount = result.duplicate.filter(Boolean).length;
    return {
      session: Session.fromRow(result.session),
      messages: result.messages.map((row) => Message.fromRow(row)),
      appendedCount: result.messages.length - duplicateCount,
      duplicateCount,
      userErrors: [],
    };
  }

  @FieldResolver(() => Session, { description: 'The session the message belongs to.' })
  async session(@Root() message: Message, @Ctx() context: RequestContext): Promise<Session> {
    const row = await context.loaders.sessionByKey.load(message.sessionKey);
    // A message's session belongs to the same tenant (composite foreign key), so it always exists.
    return Session.fromRow(row!);
  }
}
