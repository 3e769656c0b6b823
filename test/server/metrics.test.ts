// /metrics: a bounded set of series whatever operation names clients send, and a scrape that can be kept private.
import { startTestServer, type TestServer } from '../helpers/server';

const METRICS_TOKEN = 'scrape-token-0123456789';

/** Runs `count` requests, 25 at a time. */
async function inBatches(count: number, send: (index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += 25) {
    await Promise.all(Array.from({ length: Math.min(25, count - start) }, (_, offset) => send(start + offset)));
  }
}

describe('request series', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ METRICS_TOKEN });
  });
  afterAll(() => server?.close());

  /** The series of convoql_graphql_requests_total: `operation|outcome` → count. */
  async function requestSeries(): Promise<Map<string, number>> {
    const text = await (await fetch(server.metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const series = new Map<string, number>();
    for (const match of text.matchAll(/^convoql_graphql_requests_total\{operation="([^"]*)",outcome="([^"]*)"\} (\d+)$/gm)) {
      series.set(`${match[1]}|${match[2]}`, Number(match[3]));
    }
    return series;
  }

  it('counts requests without a key, with an unknown key or refused before execution under fixed labels', async () => {
    const before = await requestSeries();
    await inBatches(500, (index) => server.graphql(`query Op${index} { __typename }`, {}, { apiKey: null }));
    await inBatches(100, (index) => server.graphql(`query Unknown${index} { sessions { totalCount } }`, {}, { apiKey: 'cq_unknown' }));
    await inBatches(100, (index) => server.graphql(`query Invalid${index} { nope }`));
    await inBatches(50, (index) => server.graphql(`query Forbidden${index} { sessions { totalCount } }`, {}, { tenant: 'globex' }));
    const after = await requestSeries();
    const added = [...after].filter(([labels, count]) => before.get(labels) !== count);
    expect(Object.fromEntries(added)).toEqual({
      'unauthenticated|success': 500,
      'unauthenticated|UNAUTHENTICATED': 100,
      'rejected|GRAPHQL_VALIDATION_FAILED': 100,
      'rejected|FORBIDDEN': 50,
    });
  });

  it('gives the first METRICS_MAX_OPERATIONS names of authenticated operations a series each, and counts the rest as other', async () => {
    await inBatches(200, (index) => server.graphql(`query Named${index} { __typename }`));
    const series = await requestSeries();
    const named = [...series.keys()].filter((labels) => labels.startsWith('Named'));
    expect(named).toHaveLength(server.config.metrics.maxOperations);
    expect(server.config.metrics.maxOperations).toBe(100);
    expect(series.get('other|success')).toBe(100);
    // A name that already has a series keeps it.
    await server.graphql('query Named0 { __typename }');
    expect((await requestSeries()).get('Named0|success')).toBe(2);
  });

  it('refuses a scrape without the token, or with another, and serves it with the token', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: METRICS_TOKEN },
    ]) {
      const refused = await fetch(server.metricsUrl, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      const body = (await refused.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED']);
    }
    const served = await fetch(server.metricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await served.text()).toMatch(/^convoql_graphql_requests_total\{/m);
  });
});

describe('a listen address of its own', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ METRICS_PORT: '0' });
  });
  afterAll(() => server?.close());

  it('serves /metrics only there', async () => {
    expect(new URL(server.metricsUrl).port).not.toBe(new URL(server.url).port);
    const served = await fetch(server.metricsUrl);
    expect(served.status).toBe(200);
    expect(await served.text()).toMatch(/^convoql_db_pool_connections\{state="total"\} \d+$/m);
    expect((await fetch(server.url.replace(/\/graphql$/, '/metrics'))).status).toBe(404);
    expect((await fetch(new URL('/graphql', server.metricsUrl))).status).toBe(404);
    expect((await fetch(server.metricsUrl, { method: 'POST' })).status).toBe(405);
  });
});
