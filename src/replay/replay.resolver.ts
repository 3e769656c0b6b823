import { Args, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { Conversation } from '../conversations/conversation.type';
import { toConnection, toKeysetPage, type ConnectionValue } from '../graphql/connection';
import { ORDINAL, replayListKey } from './replay.cursor';
import { asTenantContext, type RequestContext } from '../core/context';
import { countReplaySteps, readReplayPage, replayPagesAtOnce } from './replay.repository';
import { ReplayArgs, ReplayStep, ReplayStepConnection } from './replay.type';

/** The replay of a conversation: its steps, page by page, and the namespaces that have steps. */
@Resolver(() => Conversation)
export class ReplayResolver {
  @FieldResolver(() => ReplayStepConnection, {
    description:
      'The steps of the conversation in order (messages, reasoning, tool calls and results, interrupts, resumes, errors, state updates), ' +
      'read from its LangGraph checkpoints. Paging reads only the checkpoints holding the page, wherever it sits in the thread.',
  })
  async replay(
    @Root() conversation: Conversation,
    @Args() args: ReplayArgs,
    @Ctx() context: RequestContext,
  ): Promise<ConnectionValue<ReplayStep>> {
    const tenant = asTenantContext(context);
    const namespace = args.namespace ?? '';
    // Bound to the conversation: positions are only meaningful within the thread they were read from.
    const listKey = replayListKey(conversation.key, namespace);
    const page = toKeysetPage(args, listKey, ORDINAL);
    const cursor = page.seek === null ? null : (page.seek.value as number);
    const types = args.types ?? null;
    const steps = await replayPagesAtOnce.run(() =>
      readReplayPage(tenant, conversation, namespace, { want: page.limit + 1, backward: page.backward, cursor, types }),
    );
    return toConnection(
      steps,
      page,
      listKey,
      (step) => ({ value: step.ordinal, id: String(step.ordinal) }),
      ReplayStep.fromStep,
      () => countReplaySteps(tenant, conversation, namespace, types),
    );
  }

  @FieldResolver(() => [String], {
    description:
      'The checkpoint namespaces of the conversation: "" (the root graph) first, then one per subgraph run; pass one to `replay(namespace:)`.',
  })
  namespaces(@Root() conversation: Conversation, @Ctx() context: RequestContext): Promise<string[]> {
    return context.loaders.namespacesByConversationKey.load(conversation.key);
  }
}
