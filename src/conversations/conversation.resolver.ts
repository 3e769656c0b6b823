import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, ID, Info, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection, toKeysetPage, type ConnectionValue } from '../graphql/connection';
import { fromGlobalIdOf } from '../graphql/global-id';
import { selectsField } from '../graphql/lookahead';
import { OrderDirection } from '../graphql/order';
import { asTenantContext, type RequestContext } from '../core/context';
import { assertValidConversationFilter, ConversationFilter, ConversationOrder, ConversationOrderField } from './conversation.inputs';
import { countConversations, findConversationByThreadId, listConversationPage } from './conversation.repository';
import { conversationOrderColumn } from './conversation.list';
import { Conversation, ConversationConnection } from './conversation.type';

@ArgsType()
class ConversationsArgs extends ConnectionArgs {
  @Field(() => ConversationFilter, { nullable: true, description: 'Which conversations to include.' })
  filter?: ConversationFilter | null;

  @Field(() => ConversationOrder, { nullable: true, description: 'Order of the list; default most recently active first.' })
  orderBy?: ConversationOrder | null;
}

const DEFAULT_ORDER: ConversationOrder = { field: ConversationOrderField.LAST_ACTIVITY_AT, direction: OrderDirection.DESC };

/** Queries of agent conversations. */
@Resolver(() => Conversation)
export class ConversationResolver {
  @Authorized('read')
  @Query(() => ConversationConnection, { description: "The tenant's agent conversations, filtered and ordered, as a Relay connection." })
  async conversations(
    @Args() args: ConversationsArgs,
    @Ctx() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ConnectionValue<Conversation>> {
    const tenant = asTenantContext(context);
    assertValidConversationFilter(args.filter);
    const order = args.orderBy ?? DEFAULT_ORDER;
    const listKey = `Conversation:${order.field}`;
    const column = conversationOrderColumn(order);
    const page = toKeysetPage(args, listKey, column.cursor);
    const { rows, total } = await listConversationPage(tenant, args.filter, order, page, {
      total: selectsField(info, ['totalCount']),
      // The only ways to this page's conversations are its edges and nodes: not selected there, metadata is never read.
      metadata: selectsField(info, ['edges', 'node', 'metadata']) || selectsField(info, ['nodes', 'metadata']),
    });
    return toConnection(
      rows,
      page,
      listKey,
      (row) => ({ value: column.valueOf(row), id: row.id }),
      Conversation.fromFields,
      () => (total !== null ? Promise.resolve(total) : countConversations(tenant, args.filter)),
    );
  }

  @Authorized('read')
  @Query(() => Conversation, { nullable: true, description: 'One conversation by its global ID; null when it does not exist.' })
  async conversation(
    @Arg('id', () => ID, { description: 'Global ID of the conversation.' }) id: string,
    @Ctx() context: RequestContext,
  ): Promise<Conversation | null> {
    const row = await context.loaders.conversationByKey.load(fromGlobalIdOf('Conversation', id));
    return row && Conversation.fromRow(row);
  }

  @Authorized('read')
  @Query(() => Conversation, { nullable: true, description: "One conversation by LangGraph's thread_id; null when it does not exist." })
  async conversationByThreadId(
    @Arg('threadId', { description: "LangGraph's thread_id." }) threadId: string,
    @Ctx() context: RequestContext,
  ): Promise<Conversation | null> {
    const row = await findConversationByThreadId(asTenantContext(context), threadId);
    return row && Conversation.fromRow(row);
  }
}
