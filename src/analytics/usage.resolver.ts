import { Arg, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { BadUserInputError } from '../graphql/errors';
import { assertMetadataFilter, assertSearchText } from '../graphql/search-inputs';
import { asTenantContext, type RequestContext } from '../core/context';
import { Usage, UsageFilter, UsageGroupBy } from './usage.type';

const DAY_MS = 86_400_000;
/** Longest range a usage query may span. */
const MAX_RANGE_DAYS = 366;
const MINUTE_MS = 60_000;

/** Usage analytics for dashboard tiles. */
@Resolver()
export class UsageResolver {
  @Authorized('read')
  @Query(() => Usage, {
    description:
      `Sessions, messages, conversations, tokens, cost and latency percentiles in buckets, over at most ${MAX_RANGE_DAYS} days. ` +
      'Identical queries of a tenant share one computation, and its result is reused for USAGE_CACHE_SECONDS (default 30), ' +
      'so figures may be up to that many seconds old.',
  })
  async usage(
    @Arg('groupBy', () => UsageGroupBy, { description: 'How to bucket.' }) groupBy: UsageGroupBy,
    @Arg('filter', () => UsageFilter, {
      nullable: true,
      description: 'Range and filters; default the 30 days up to the end of the current minute.',
    })
    filter: UsageFilter | null,
    @Ctx() context: RequestContext,
  ): Promise<Usage> {
    // The default end is rounded up to the minute so that dashboards asking for the default range share one result.
    const to = filter?.to ?? new Date(Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS);
    const from = filter?.from ?? new Date(to.getTime() - 30 * DAY_MS);
    if (from.getTime() >= to.getTime()) {
      throw new BadUserInputError(`filter.from (${from.toISOString()}) must be before filter.to (${to.toISOString()}).`, 'filter.from');
    }
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw new BadUserInputError(`The range may span at most ${MAX_RANGE_DAYS} days.`, 'filter.from');
    }
    assertMetadataFilter(filter?.metadata, 'filter.metadata');
    assertSearchText(filter?.text, 'filter.text');
    const tenantContext = asTenantContext(context);
    const query = {
      from,
      to,
      groupBy,
      channel: filter?.channel ?? null,
      status: filter?.status ?? null,
      metadata: filter?.metadata ?? null,
      text: filter?.text ?? null,
      hasErrors: filter?.hasErrors ?? null,
      toolName: filter?.toolName ?? null,
      model: filter?.model ?? null,
    };
    const buckets = await context.loaders.usage.load(tenantContext, query);
    const timed = groupBy === UsageGroupBy.DAY || groupBy === UsageGroupBy.WEEK;
    return {
      from,
      to,
      groupBy,
      buckets: buckets.map((bucket) => ({ ...bucket, start: timed ? new Date(`${bucket.key}T00:00:00.000Z`) : null })),
    };
  }
}
