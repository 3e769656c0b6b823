import { at, createConversations, createMessages, createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';
import { UsageTilesDocument, type UsageGroupBy, type UsageTilesQuery } from '../generated/operations';

type Bucket = UsageTilesQuery['usage']['buckets'][number];

let server: TestServer;
const range = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-08T00:00:00.000Z' };
const DAY = 24 * 60;

beforeAll(async () => {
  // No reuse of finished results: every query here is computed (usage.cache.test.ts covers reuse).
  server = await startTestServer({
    MODEL_PRICES: '{"gpt-4o-mini":{"input":0.15,"output":0.6},"gpt-4o":{"input":2.5,"output":10}}',
    USAGE_CACHE_SECONDS: '0',
  });
  // Day 1 (Nov 1): two web sessions of 10 and 30 minutes; day 2: one phone session of 60 minutes.
  const web1 = await createSession(server.db, {
    channel: 'web',
    status: 'CLOSED',
    startedAt: at(0),
    lastActivityAt: at(10),
    endedAt: at(10),
  });
  const web2 = await createSession(server.db, { channel: 'web', startedAt: at(60), lastActivityAt: at(90) });
  const phone = await createSession(server.db, { channel: 'phone', startedAt: at(DAY), lastActivityAt: at(DAY + 60) });
  const assistant = (model: string, inputTokens: number, outputTokens: number, latencyMs: number) => ({
    role: 'ASSISTANT' as const,
    metadata: { model, usage: { inputTokens, outputTokens }, latencyMs },
  });
  await createMessages(server.db, web1, [{ role: 'USER' }, assistant('gpt-4o-mini', 1000, 100, 200)]);
  await createMessages(server.db, web2, [
    { role: 'USER' },
    assistant('gpt-4o-mini', 2000, 200, 400),
    assistant('gpt-4o', 1000, 1000, 1000),
  ]);
  await createMessages(server.db, phone, [{ role: 'USER' }]);
  // Another tenant's activity never counts.
  const foreign = await createSession(server.db, { tenantId: 'globex', startedAt: at(5) });
  await createMessages(server.db, foreign, [assistant('gpt-4o', 99999, 99999, 1)]);
  await createConversations(server.db, 2, (index) => ({
    lastActivityAt: at(index * DAY + 30),
    inputTokens: 500n,
    outputTokens: 50n,
    costUsd: '0.01000000',
  }));
  await createConversations(server.db, 1, () => ({ tenantId: 'globex', lastActivityAt: at(30), costUsd: '5' }));
});
afterAll(() => server?.close());

async function usage(groupBy: UsageGroupBy, filter: Record<string, unknown> = range): Promise<Bucket[]> {
  const response = await server.graphql(UsageTilesDocument, { groupBy, filter });
  expect(response.errors).toBeUndefined();
  expect(response.data!.usage.groupBy).toBe(groupBy);
  return response.data!.usage.buckets;
}

it('buckets by day with exact costs and percentiles, for the tenant only', async () => {
  const [day1, day2] = await usage('DAY');
  expect(day1).toEqual({
    key: '2026-11-01',
    start: '2026-11-01T00:00:00.000Z',
    sessions: 2,
    messages: 5,
    conversations: 1,
    inputTokens: 4000 + 500,
    outputTokens: 1300 + 50,
    // (3000 * 0.15 + 300 * 0.6) / 1e6 + (1000 * 2.5 + 1000 * 10) / 1e6 + 0.01
    costUsd: '0.02313000',
    sessionDurationP50: 1200,
    sessionDurationP95: 1740,
    stepLatencyP50: 400,
    stepLatencyP95: 940,
  });
  expect(day2).toMatchObject({
    key: '2026-11-02',
    sessions: 1,
    messages: 1,
    conversations: 1,
    costUsd: '0.01000000',
    sessionDurationP50: 3600,
    stepLatencyP50: null,
  });
});

it('buckets by week, channel, status and model', async () => {
  expect((await usage('WEEK')).map((bucket) => [bucket.key, bucket.sessions])).toEqual([
    ['2026-10-26', 2],
    ['2026-11-02', 1],
  ]);
  const channels = await usage('CHANNEL');
  expect(channels.map((bucket) => [bucket.key, bucket.sessions, bucket.messages, bucket.conversations])).toEqual([
    ['phone', 1, 1, 0],
    ['web', 2, 5, 0],
  ]);
  expect((await usage('STATUS')).map((bucket) => [bucket.key, bucket.sessions])).toEqual([
    ['ACTIVE', 2],
    ['CLOSED', 1],
  ]);
  expect((await usage('MODEL')).map((bucket) => [bucket.key, bucket.sessions, bucket.messages, bucket.costUsd])).toEqual([
    ['gpt-4o', 1, 1, '0.01250000'],
    ['gpt-4o-mini', 2, 2, '0.00063000'],
    ['unknown', 3, 3, '0.00000000'],
  ]);
});

it('applies channel and status filters to sessions and messages, leaving conversations out', async () => {
  const buckets = await usage('DAY', { ...range, channel: ['web'], status: ['ACTIVE'] });
  expect(buckets.map((bucket) => [bucket.key, bucket.sessions, bucket.messages, bucket.conversations])).toEqual([['2026-11-01', 1, 3, 0]]);
});

it('runs in one statement', async () => {
  await usage('DAY');
  const { statements } = await server.db.statements.record(() => server.graphql(UsageTilesDocument, { groupBy: 'MODEL', filter: range }));
  expect(statements.filter((sql) => !/api_keys/.test(sql))).toHaveLength(1);
});

it.each([
  [{ groupBy: 'DAY', filter: { from: range.to, to: range.from } }],
  [{ groupBy: 'DAY', filter: { from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }],
  [{ groupBy: 'HOUR' }],
  [{ groupBy: 'DAY', filter: { from: 'last week' } }],
])('rejects %j with BAD_USER_INPUT', async (variables) => {
  const response = await server.graphql(UsageTilesDocument, variables as never);
  expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
});
