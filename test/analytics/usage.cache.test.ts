import { UsageCache } from '../../src/analytics/usage.cache';
import { UsageGroupBy } from '../../src/analytics/usage.type';
import type { TenantContext } from '../../src/core/context';
import { at, createMessages, createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { UsageTilesDocument, type UsageTilesQueryVariables } from '../generated/operations';

// Each test uses a range of its own (a different `to`), so results cached by one never reach another.
const FROM = '2026-11-01T00:00:00.000Z';
const range = (toDay: number) => ({ from: FROM, to: `2026-12-${String(toDay).padStart(2, '0')}T00:00:00.000Z` });
const nonKeyStatements = (statements: string[]) => statements.filter((sql) => !/api_keys/.test(sql));

/** `count` aliases of one usage query in a single operation: their resolvers start in the same tick. */
function aliasedUsage(count: number): string {
  const fields = Array.from(
    { length: count },
    (_, index) => `u${index}: usage(groupBy: DAY, filter: $filter) { buckets { key messages } }`,
  );
  return `query Aliased($filter: UsageFilter) { ${fields.join(' ')} }`;
}

describe('usage results shared between requests (USAGE_CACHE_SECONDS 30)', () => {
  let server: TestServer;
  let globexKey: string;

  beforeAll(async () => {
    server = await startTestServer({ USAGE_CACHE_SECONDS: '30' });
    globexKey = await server.createKey('globex', ['read']);
    const acme = await createSession(server.db, { startedAt: at(0) });
    await createMessages(server.db, acme, [{ role: 'USER' }, { role: 'ASSISTANT' }]);
    const globex = await createSession(server.db, { tenantId: 'globex', startedAt: at(0) });
    await createMessages(server.db, globex, [{ role: 'USER' }, { role: 'ASSISTANT' }, { role: 'USER' }, { role: 'ASSISTANT' }]);
  });
  afterAll(() => server?.close());

  const usage = (variables: UsageTilesQueryVariables, apiKey?: string) => server.graphql(UsageTilesDocument, variables, { apiKey });

  it('answers concurrent identical queries with one statement', async () => {
    const { result, statements } = await server.db.statements.record(() =>
      Promise.all(Array.from({ length: 8 }, () => usage({ groupBy: 'DAY', filter: range(1) }))),
    );
    expect(nonKeyStatements(statements)).toHaveLength(1);
    for (const response of result) {
      expect(response.errors).toBeUndefined();
      expect(response.data).toEqual(result[0]!.data);
    }
    expect(result[0]!.data!.usage.buckets.map((bucket) => [bucket.key, bucket.messages])).toEqual([['2026-11-01', 2]]);
  });

  it('shares the default range (up to the end of the current minute) between clients that send no range', async () => {
    const query = 'query { usage(groupBy: DAY) { from to buckets { key } } }';
    const first = await server.graphql<{ usage: { from: string; to: string } }>(query);
    const { result: second, statements } = await server.db.statements.record(() => server.graphql<{ usage: { to: string } }>(query));
    // A minute boundary between the two requests moves the default range; only then may the second compute afresh.
    if (second.data!.usage.to === first.data!.usage.to) expect(nonKeyStatements(statements)).toHaveLength(0);
    expect(new Date(first.data!.usage.to).getTime() % 60_000).toBe(0);
    expect(new Date(first.data!.usage.to).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('reuses a finished result within the TTL without a statement, so figures may be that old', async () => {
    const first = await usage({ groupBy: 'DAY', filter: range(2) });
    const late = await createSession(server.db, { startedAt: at(10) });
    await createMessages(server.db, late, [{ role: 'USER' }]);
    const { result: second, statements } = await server.db.statements.record(() => usage({ groupBy: 'DAY', filter: range(2) }));
    expect(nonKeyStatements(statements)).toHaveLength(0);
    expect(second.data).toEqual(first.data);
    // The same query over another range is computed afresh and sees the new message.
    const other = await usage({ groupBy: 'DAY', filter: range(3) });
    expect(other.data!.usage.buckets[0]!.messages).toBe(first.data!.usage.buckets[0]!.messages + 1);
  });

  it('never shares a result between tenants', async () => {
    const variables = { groupBy: 'DAY' as const, filter: range(4) };
    const concurrent = await server.db.statements.record(() => Promise.all([usage(variables), usage(variables, globexKey)]));
    expect(nonKeyStatements(concurrent.statements)).toHaveLength(2);
    const [acme, globex] = concurrent.result.map((response) => response.data!.usage.buckets[0]!.messages);
    expect(globex).toBe(4);
    expect(acme).not.toBe(globex);
    // Cached now, and still each tenant's own: also for an admin key acting for globex.
    const admin = await server.createKey(null, ['read', 'admin']);
    const again = await server.db.statements.record(() =>
      Promise.all([
        usage(variables),
        usage(variables, globexKey),
        server.graphql(UsageTilesDocument, variables, { apiKey: admin, tenant: 'globex' }),
      ]),
    );
    expect(nonKeyStatements(again.statements)).toHaveLength(0);
    expect(again.result.map((response) => response.data!.usage.buckets[0]!.messages)).toEqual([acme, globex, globex]);
  });

  it('shares only between the same arguments, with filter lists compared as sets', async () => {
    const to = range(5).to;
    const { statements } = await server.db.statements.record(() =>
      Promise.all([
        usage({ groupBy: 'DAY', filter: { from: FROM, to } }),
        usage({ groupBy: 'WEEK', filter: { from: FROM, to } }),
        usage({ groupBy: 'DAY', filter: { from: '2026-11-01T00:00:00.001Z', to } }),
        usage({ groupBy: 'DAY', filter: { from: FROM, to, channel: ['web'] } }),
        usage({ groupBy: 'DAY', filter: { from: FROM, to, channel: ['web', 'phone'] } }),
        usage({ groupBy: 'DAY', filter: { from: FROM, to, channel: ['phone', 'web', 'web'] } }),
        usage({ groupBy: 'DAY', filter: { from: FROM, to, status: ['ACTIVE'] } }),
      ]),
    );
    expect(nonKeyStatements(statements)).toHaveLength(6);
  });

  it('keeps no failure: every waiter gets the error, and the next query runs again', async () => {
    const variables = { groupBy: 'DAY' as const, filter: range(6) };
    await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations RENAME TO conversations_away');
    let failed;
    try {
      failed = await Promise.all(Array.from({ length: 4 }, () => usage(variables)));
    } finally {
      await server.db.prisma.$executeRawUnsafe('ALTER TABLE conversations_away RENAME TO conversations');
    }
    expect(failed.map((response) => [response.data, response.errors?.map((error) => error.extensions?.code)])).toEqual(
      Array(4).fill([null, ['INTERNAL_SERVER_ERROR']]),
    );
    const { result, statements } = await server.db.statements.record(() => usage(variables));
    expect(result.errors).toBeUndefined();
    expect(nonKeyStatements(statements)).toHaveLength(1);
  });
});

describe('usage with USAGE_CACHE_SECONDS 0', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ USAGE_CACHE_SECONDS: '0' });
  });
  afterAll(() => server?.close());

  it('still shares one statement between queries in flight together', async () => {
    const { result, statements } = await server.db.statements.record(() => server.graphql(aliasedUsage(5), { filter: range(1) }));
    expect(result.errors).toBeUndefined();
    expect(nonKeyStatements(statements)).toHaveLength(1);
  });

  it('sees data inserted since the previous query', async () => {
    const variables = { groupBy: 'DAY' as const, filter: range(1) };
    const before = await server.graphql(UsageTilesDocument, variables);
    expect(before.data!.usage.buckets).toEqual([]);
    const session = await createSession(server.db, { startedAt: at(0) });
    await createMessages(server.db, session, [{ role: 'USER' }]);
    const { result: after, statements } = await server.db.statements.record(() => server.graphql(UsageTilesDocument, variables));
    expect(nonKeyStatements(statements)).toHaveLength(1);
    expect(after.data!.usage.buckets.map((bucket) => [bucket.key, bucket.sessions, bucket.messages])).toEqual([['2026-11-01', 1, 1]]);
  });
});

describe('UsageCache bounds', () => {
  const tenant = (tenantId: string) => ({ viewer: { tenantId } }) as TenantContext;
  const query = (day: number) => ({
    groupBy: UsageGroupBy.DAY,
    from: new Date(Date.UTC(2026, 10, day)),
    to: new Date(Date.UTC(2026, 11, 1)),
    channel: null,
    status: null,
  });

  it('forgets a result after its TTL', async () => {
    let now = 0;
    const cache = new UsageCache<number>({ ttlMs: 1000, now: () => now });
    let loads = 0;
    const load = () => Promise.resolve(++loads);
    expect(await cache.get(tenant('acme'), query(1), load)).toBe(1);
    now = 999;
    expect(await cache.get(tenant('acme'), query(1), load)).toBe(1);
    now = 1000;
    expect(await cache.get(tenant('acme'), query(1), load)).toBe(2);
  });

  it('keeps at most maxEntries results, dropping the least recently used', async () => {
    const cache = new UsageCache<string>({ ttlMs: 60_000, maxEntries: 2 });
    const loads: string[] = [];
    const get = (tenantId: string, day: number) =>
      cache.get(tenant(tenantId), query(day), () => {
        loads.push(`${tenantId}/${day}`);
        return Promise.resolve(`${tenantId}/${day}`);
      });
    await get('acme', 1);
    await get('acme', 2);
    await get('acme', 1); // now the most recently used
    await get('globex', 1); // evicts acme/2
    expect(cache.size).toBe(2);
    await get('acme', 1);
    await get('acme', 2);
    expect(loads).toEqual(['acme/1', 'acme/2', 'globex/1', 'acme/2']);
  });
});
