import type { GraphQLResolveInfo } from 'graphql';
import { Args, ArgsType, Authorized, Ctx, Field, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs, toBoundedConnection, toKeysetPage, type BoundedConnectionValue } from '../graphql/connection';
import { selectsField } from '../graphql/lookahead';
import { asTenantContext, type RequestContext } from '../core/context';
import { assertValidMessageSearch, MessageSearchFilter, MessageSearchOrder } from './message-search.inputs';
import { messageSearchOrder } from './message-search.list';
import { countSearchMessages, searchMessagePage } from './message-search.repository';
import { MessageSearchHit, MessageSearchHitConnection } from './message-search.type';
import { Session } from './session.type';
import { MAX_SEARCH_TEXT_LENGTH } from '../graphql/search-inputs';

@ArgsType()
class SearchMessagesArgs extends ConnectionArgs {
  @Field({
    description: `Web-search query over message content: words (all must occur), "quoted phrases", \`or\`, \`-excluded\`; never a syntax error. Words are matched with the server's text search configuration (TEXT_SEARCH_CONFIG, default \`simple\`: no stemming). 1–${MAX_SEARCH_TEXT_LENGTH} characters, not blank.`,
  })
  query!: string;

  @Field(() => MessageSearchFilter, { nullable: true, description: 'Which messages to include besides matching the query.' })
  filter?: MessageSearchFilter | null;

  @Field(() => MessageSearchOrder, { nullable: true, description: 'Order of the hits; default NEWEST.' })
  orderBy?: MessageSearchOrder | null;
}

/** Full-text search over the tenant's messages. */
@Resolver(() => MessageSearchHit)
export class MessageSearchResolver {
  @Authorized('read')
  @Query(() => MessageSearchHitConnection, {
    description:
      "The tenant's messages matching a web-search query, newest or best first, as a Relay connection; each hit has its session and highlighted fragments.",
  })
  async searchMessages(
    @Args() args: SearchMessagesArgs,
    @Ctx() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<BoundedConnectionValue<MessageSearchHit>> {
    const tenant = asTenantContext(context);
    assertValidMessageSearch(args.query, args.filter);
    const order = args.orderBy ?? MessageSearchOrder.NEWEST;
    const listKey = `MessageSearch:${order}`;
    const page = toKeysetPage(args, listKey, messageSearchOrder(order).cursorShape);
    const counts = selectsField(info, ['totalCount']) || selectsField(info, ['totalCountIsExact']);
    const { rows, total } = await searchMessagePage(tenant, args.query, args.filter, order, page, counts);
    return toBoundedConnection(
      rows,
      page,
      listKey,
      (row) => ({ value: row.rank ?? row.message.createdAt.toISOString(), id: row.message.id }),
      MessageSearchHit.fromRow,
      () => (total !== null ? Promise.resolve(total) : countSearchMessages(tenant, args.query, args.filter)),
    );
  }

  @FieldResolver(() => Session, { description: 'The session the message belongs to (batched with the other hits of the page).' })
  async session(@Root() hit: MessageSearchHit, @Ctx() context: RequestContext): Promise<Session> {
    const row = await context.loaders.sessionByKey.load(hit.sessionKey);
    // A message's session belongs to the same tenant (composite foreign key), so it always exists.
    return Session.fromRow(row!);
  }
}
