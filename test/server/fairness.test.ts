import type { PoolClient } from 'pg';
import { ConfigError, loadConfig } from '../../src/config';
import { CostBudget } from '../../src/server/cost-budget';
import { TenantSlots } from '../../src/server/tenant-slots';
import { createSession, sessionGid } from '../helpers/factories';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

const throttleStatus = (response: GraphQLResponse): ThrottleStatus =>
  (response.extensions?.cost as { throttleStatus: ThrottleStatus }).throttleStatus;

/** `sessions(first: 40) { nodes { id status } }` costs 1 + 40 * (1 + 2) = 121. */
const PAGE = '{ sessions(first: 40) { nodes { id status } } }';
const PAGE_COST = 121;
/** A document that does not parse: it reports the budget and spends nothing. */
const STATUS_ONLY = '{ sessions {';

describe('cost budget per API key', () => {
  let server: TestServer;

  beforeAll(async () => {
    // A small budget restored at 1 point per second: the few points a test's own duration restores cannot hide a charge.
    server = await startTestServer({ MAX_QUERY_COST: '500', COST_BUDGET_MAX: '1000', COST_BUDGET_RESTORE_RATE: '1' });
  });
  afterAll(() => server?.close());

  it.each([
    ['a successful query', PAGE, 200],
    ['a resolver error', '{ sessions(first: 0) { totalCount } }', 200],
    ['a validation error', '{ sessions { noSuchField } }', 200],
    ['a syntax error', STATUS_ONLY, 200],
    ['an operation over the cost limit', '{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }', 200],
  ])('is reported in extensions.cost.throttleStatus of %s', async (_name, query, status) => {
    const apiKey = await server.createKey('acme', ['read']);
    const response = await server.graphql(query, {}, { apiKey });
    // GraphQL over HTTP: a GraphQL response sent as application/json is 200 whatever its errors.
    expect(response.status).toBe(status);
    expect(response.extensions?.cost).toMatchObject({
      limit: 500,
      throttleStatus: { maximumAvailable: 1000, currentlyAvailable: expect.any(Number), restoreRate: 1 },
    });
  });

  it("is spent by each operation's cost, not by refused or unparsable ones, and restores over time", async () => {
    const apiKey = await server.createKey('acme', ['read']);
    const first = await server.graphql(PAGE, {}, { apiKey });
    expect(first.errors).toBeUndefined();
    expect(first.extensions?.cost).toMatchObject({ requested: PAGE_COST });
    expect(throttleStatus(first).currentlyAvailable).toBe(1000 - PAGE_COST);
    const second = await server.graphql(PAGE, {}, { apiKey });
    // At most a few points came back meanwhile (1 per second).
    expect(throttleStatus(second).currentlyAvailable).toBeGreaterThanOrEqual(1000 - 2 * PAGE_COST);
    expect(throttleStatus(second).currentlyAvailable).toBeLessThan(1000 - 2 * PAGE_COST + 10);

    const tooComplex = await server.graphql('{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }', {}, { apiKey });
    expect(tooComplex.errors![0]!.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(throttleStatus(tooComplex).currentlyAvailable).toBeGreaterThanOrEqual(throttleStatus(second).currentlyAvailable);

    // Restoring: a request that spends nothing shows the points coming back.
    const spent = throttleStatus(await server.graphql(STATUS_ONLY, {}, { apiKey })).currentlyAvailable;
    let now = spent;
    while (now <= spent) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      now = throttleStatus(await server.graphql(STATUS_ONLY, {}, { apiKey })).currentlyAvailable;
    }
    expect(now).toBeLessThanOrEqual(1000);
  });

  it('refuses an operation costing more than is available with THROTTLED, 429 and Retry-After, before any resolver or SQL', async () => {
    const apiKey = await server.createKey('acme', ['read', 'write']);
    const session = await createSession(server.db);
    for (let spent = 0; spent < 7; spent++) expect((await server.graphql(PAGE, {}, { apiKey })).errors).toBeUndefined();
    const available = throttleStatus(await server.graphql(STATUS_ONLY, {}, { apiKey })).currentlyAvailable;
    expect(available).toBeLessThan(1000 - 7 * PAGE_COST + 10);

    // 1 + (1 + 1 + 1 + 100 * 2) + (1 + 2): costs more than the 150-odd points left.
    const mutation = `mutation { updateSessionStatus(input: { id: "${sessionGid(session)}", status: CLOSED }) {
      session { id status messages(first: 100) { nodes { id } } } userErrors { field message } } }`;
    const { result, statements } = await server.db.statements.record(() =>
      fetch(server.url, {
        method: 'POST',
        // The GraphQL-over-HTTP media type carries the status: 429 (as application/json it would be 200).
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query: mutation }),
      }),
    );
    expect(result.status).toBe(429);
    const body = (await result.json()) as GraphQLResponse;
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    const error = body.errors![0]!;
    expect(error.extensions).toMatchObject({ code: 'THROTTLED', requested: 208, currentlyAvailable: expect.any(Number) });
    const { retryAfterMs, retryAfterSeconds, currentlyAvailable } = error.extensions as Record<string, number>;
    // The bucket holds a fraction of a point more than it reports.
    expect(retryAfterMs).toBeGreaterThan((208 - currentlyAvailable - 1) * 1000);
    expect(retryAfterMs).toBeLessThanOrEqual((208 - currentlyAvailable) * 1000);
    expect(retryAfterSeconds).toBe(Math.ceil(retryAfterMs / 1000));
    expect(result.headers.get('retry-after')).toBe(String(retryAfterSeconds));
    expect(error.message).toMatch(/^Throttled: this operation costs 208 points and this API key has \d+ of its 1000 available/);
    expect(body.extensions?.cost).toMatchObject({ requested: 208, throttleStatus: { currentlyAvailable } });
    // The key's lookup is authentication's; nothing else reached the database, and the session is untouched.
    expect(statements.filter((sql) => !/api_keys/.test(sql))).toEqual([]);
    expect((await server.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } })).status).toBe('ACTIVE');

    // Another tenant's key, and another key of the same tenant, have budgets of their own.
    for (const other of [await server.createKey('globex', ['read', 'write']), await server.createKey('acme', ['read', 'write'])]) {
      const response = await server.graphql(PAGE, {}, { apiKey: other });
      expect(response.errors).toBeUndefined();
      expect(throttleStatus(response).currentlyAvailable).toBe(1000 - PAGE_COST);
    }
    // The throttled key can still run what it can afford.
    expect((await server.graphql('{ sessions(first: 1) { totalCount } }', {}, { apiKey })).errors).toBeUndefined();
  });

  it('gives requests without a key no budget', async () => {
    const response = await server.graphql(PAGE, {}, { apiKey: null });
    expect(response.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.extensions?.cost).toEqual({ requested: PAGE_COST, limit: 500 });
  });
});

describe('operations in flight per tenant', () => {
  let server: TestServer;

  beforeAll(async () => {
    // Key lookups cached, so that with every pool connection held only the operations themselves wait.
    server = await startTestServer({ MAX_TENANT_CONCURRENCY: '1', TENANT_QUEUE_LENGTH: '1' }, { apiKeyCacheMs: 60_000 });
  });
  let releaseHeld = () => {};
  afterAll(() => {
    releaseHeld();
    return server?.close();
  });

  it('runs one at a time for a tenant, queues one more and refuses the next with THROTTLED, while another tenant runs', async () => {
    const acme = server.apiKey;
    const globex = await server.createKey('globex', ['read']);
    const query = '{ sessions(first: 1) { totalCount } }';
    for (const apiKey of [acme, globex]) expect((await server.graphql(query, {}, { apiKey })).errors).toBeUndefined();

    // Hold every pool connection: an operation that got its slot then waits for the pool, where it can be seen.
    const pool = server.db.pool;
    const held: PoolClient[] = await Promise.all(Array.from({ length: pool.options.max }, () => pool.connect()));
    // Released however the test ends, so a failed assertion cannot hang the server's close.
    releaseHeld = () => held.splice(0).forEach((client) => client.release());
    const untilWaiting = async (count: number) => {
      while (pool.waitingCount < count) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const running = server.graphql(query, {}, { apiKey: acme });
    await untilWaiting(1);
    // Of two more, one waits for acme's slot and one is refused at once; which one arrives first is up to the network.
    const more = [server.graphql(query, {}, { apiKey: acme }), server.graphql(query, {}, { apiKey: acme })];
    const refused = await Promise.race(more);
    expect(refused.status).toBe(200);
    expect(refused.errors).toEqual([
      {
        message: expect.stringMatching(
          /^Throttled: this tenant already has 1 operations waiting behind the ones running \(at most 1 at once/,
        ),
        extensions: { code: 'THROTTLED', retryAfterMs: 1000, retryAfterSeconds: 1, maxConcurrency: 1, maxCostInFlight: 20_000 },
      },
    ]);
    // globex is not held back by acme: its operation gets a slot and reaches the pool.
    const other = server.graphql(query, {}, { apiKey: globex });
    await untilWaiting(2);
    expect(pool.waitingCount).toBe(2);

    releaseHeld();
    const answers = await Promise.all([running, ...more, other]);
    const outcomes = answers.map((answer) => answer.errors?.[0]?.extensions?.code ?? 'ok');
    expect(outcomes.filter((outcome) => outcome === 'THROTTLED')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(3);
  });
});

describe('CostBudget', () => {
  it('restores at its rate up to the maximum and says exactly when a refused cost will fit', () => {
    let now = 0;
    const budget = new CostBudget(1000, 10, () => now);
    expect(budget.take('k', 900)).toMatchObject({ taken: true, status: { currentlyAvailable: 100 } });
    expect(budget.take('k', 300)).toEqual({
      taken: false,
      status: { maximumAvailable: 1000, currentlyAvailable: 100, restoreRate: 10 },
      retryAfterMs: 20_000,
    });
    now = 20_000;
    expect(budget.take('k', 300)).toMatchObject({ taken: true, status: { currentlyAvailable: 0 } });
    budget.giveBack('k', 300);
    expect(budget.status('k').currentlyAvailable).toBe(300);
    now = 1_000_000;
    expect(budget.status('k').currentlyAvailable).toBe(1000);
    expect(budget.status('other').currentlyAvailable).toBe(1000);
  });
});

describe('TenantSlots', () => {
  it('passes a freed slot to the next in line, refuses past the line and after the wait, and forgets a released ticket', async () => {
    const slots = new TenantSlots(1, 1, 20);
    const first = slots.acquire('a');
    expect(await first.granted).toBe(true);
    const second = slots.acquire('a');
    expect(await slots.acquire('a').granted).toBe(false);
    expect(await slots.acquire('b').granted).toBe(true);
    first.release();
    first.release();
    expect(await second.granted).toBe(true);
    // The wait runs out while `second` holds the slot.
    expect(await slots.acquire('a').granted).toBe(false);
    const left = slots.acquire('a');
    left.release();
    expect(await left.granted).toBe(false);
    second.release();
    expect(await slots.acquire('a').granted).toBe(true);
  });

  it('runs operations together only while their costs fit, the costliest alone, in arrival order', async () => {
    const slots = new TenantSlots(5, 5, 1_000, 100);
    const started: string[] = [];
    const take = (name: string, cost: number) => {
      const ticket = slots.acquire('a', cost);
      void ticket.granted.then((granted) => granted && started.push(name));
      return ticket;
    };
    const small = take('small 40', 40);
    const medium = take('medium 50', 50);
    // 40 + 50 + 30 > 100: waits, and the cheap one behind it waits its turn.
    const third = take('third 30', 30);
    const fourth = take('fourth 5', 5);
    const heavy = take('heavy 150', 150);
    await Promise.resolve();
    expect(started).toEqual(['small 40', 'medium 50']);
    small.release();
    await Promise.resolve();
    expect(started).toEqual(['small 40', 'medium 50', 'third 30', 'fourth 5']);
    for (const ticket of [medium, third, fourth]) ticket.release();
    // Over the cost cap on its own, it runs once nothing else does.
    expect(await heavy.granted).toBe(true);
    expect(await slots.acquire('b', 150).granted).toBe(true);
  });

  it("holds a costly operation back while another tenant's operations run, until they end or the wait runs out", async () => {
    const slots = new TenantSlots(5, 5, 1_000);
    const order: string[] = [];
    const light = slots.acquire('b', 10);
    await light.granted;
    const costly = slots.acquire('a', 10_000);
    await costly.granted;
    const held = slots.yieldToOthers('a', 60_000).then(() => order.push('a runs'));
    await new Promise((resolve) => setImmediate(resolve));
    order.push('b ends');
    light.release();
    await held;
    expect(order).toEqual(['b ends', 'a runs']);
    // Alone, it does not wait; and it never waits longer than its limit for a tenant that keeps running.
    await slots.yieldToOthers('a', 60_000);
    const busy = slots.acquire('c', 10);
    await busy.granted;
    await slots.yieldToOthers('a', 5);
    // Two tenants holding back do not wait for each other: c's costly operation yields to nobody running.
    busy.release();
    const other = slots.acquire('c', 10_000);
    await other.granted;
    const bothHolding = [slots.yieldToOthers('a', 60_000), slots.yieldToOthers('c', 60_000)];
    await Promise.race(bothHolding);
    costly.release();
    other.release();
  });
});

describe('configuration', () => {
  it('defaults to a budget a dashboard never meets and half the pool per tenant', () => {
    expect(loadConfig({}).fairness).toEqual({
      budgetMaximum: 100_000,
      budgetRestoreRate: 10_000,
      tenantConcurrency: 5,
      tenantQueueLength: 100,
      tenantCostInFlight: 20_000,
      costlyOperation: 5_000,
    });
    expect(loadConfig({ DB_POOL_MAX: '1' }).fairness.tenantConcurrency).toBe(1);
    expect(loadConfig({ MAX_QUERY_COST: '5000' }).fairness.tenantCostInFlight).toBe(5_000);
    expect(loadConfig({ COST_BUDGET_MAX: '0', MAX_TENANT_CONCURRENCY: '0', TENANT_QUEUE_LENGTH: '0' }).fairness).toEqual({
      budgetMaximum: 0,
      budgetRestoreRate: 10_000,
      tenantConcurrency: 0,
      tenantQueueLength: 0,
      tenantCostInFlight: 20_000,
      costlyOperation: 5_000,
    });
  });

  it.each([
    [{ COST_BUDGET_MAX: '-1' }, 'Invalid configuration: COST_BUDGET_MAX expected an integer >= 0, received "-1"'],
    [{ COST_BUDGET_MAX: 'lots' }, 'Invalid configuration: COST_BUDGET_MAX expected an integer, received "lots"'],
    [
      { COST_BUDGET_MAX: '19999' },
      'Invalid configuration: COST_BUDGET_MAX expected 0 (no budget) or at least MAX_QUERY_COST (20000), so that every admitted operation fits a full budget, received "19999"',
    ],
    [{ COST_BUDGET_RESTORE_RATE: '0' }, 'Invalid configuration: COST_BUDGET_RESTORE_RATE expected an integer >= 1, received "0"'],
    [{ COST_BUDGET_RESTORE_RATE: '1.5' }, 'Invalid configuration: COST_BUDGET_RESTORE_RATE expected an integer, received "1.5"'],
    [{ MAX_TENANT_CONCURRENCY: '-2' }, 'Invalid configuration: MAX_TENANT_CONCURRENCY expected an integer >= 0, received "-2"'],
    [{ TENANT_QUEUE_LENGTH: 'x' }, 'Invalid configuration: TENANT_QUEUE_LENGTH expected an integer, received "x"'],
  ])('refuses %j', (environment, message) => {
    expect(() => loadConfig(environment)).toThrow(new ConfigError(message));
  });
});
