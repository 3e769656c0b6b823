import type { SharedStore } from '../db/redis';
import { CostBudget, type BudgetDecision, type KeyBudgets, type ThrottleStatus } from './cost-budget';

/**
 * The leaky bucket of CostBudget as one Redis script, so that taking points is atomic across processes: a bucket is a
 * hash of the points it held (`a`) at a time (`t`, milliseconds of Redis's own clock, so the servers' clocks do not
 * matter). ARGV: maximum, restore rate per second, cost, and the mode: `take` (only when the points are there),
 * `give` (return points) or `peek`. Answers {taken (1 or 0), points available after, as a string}. A bucket expires
 * when it would be full again, since a full bucket is the same as none.
 */
const BUCKET_SCRIPT = `
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
local maximum, rate, cost, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local held = redis.call('HMGET', KEYS[1], 'a', 't')
local available = maximum
if held[1] then
  available = math.min(maximum, tonumber(held[1]) + math.max(0, now - tonumber(held[2])) / 1000 * rate)
end
local taken = 0
if mode == 'take' and cost <= available then
  available = available - cost
  taken = 1
elseif mode == 'give' then
  available = math.min(maximum, available + cost)
  taken = 1
end
if taken == 1 then
  if available >= maximum then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'a', string.format('%.17g', available), 't', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[1], math.ceil((maximum - available) / rate * 1000) + 1000)
  end
end
return {taken, string.format('%.17g', available)}
`;

/**
 * The keys' cost budgets in Redis, shared by every server process: together they admit what one budget allows. While
 * Redis is down (or a command fails) a key's budget is this process's own CostBudget, as without REDIS_URL, so a
 * request is never refused or delayed for want of Redis; the shared buckets are used again once it answers.
 */
export class SharedCostBudget implements KeyBudgets {
  private readonly local: CostBudget;
  private readonly bucket: (keys: string[], args: (string | number)[]) => Promise<unknown>;

  constructor(
    private readonly store: SharedStore,
    readonly maximumAvailable: number,
    readonly restoreRate: number,
  ) {
    this.local = new CostBudget(maximumAvailable, restoreRate);
    this.bucket = store.defineScript('convoqlCostBucket', BUCKET_SCRIPT, 1);
  }

  async take(key: string, cost: number): Promise<BudgetDecision> {
    const shared = await this.run(key, cost, 'take');
    if (!shared) return this.local.take(key, cost);
    if (shared.taken) return { taken: true, status: this.statusOf(shared.available), retryAfterMs: 0 };
    const retryAfterMs = Math.ceil(((cost - shared.available) / this.restoreRate) * 1000);
    return { taken: false, status: this.statusOf(shared.available), retryAfterMs };
  }

  async giveBack(key: string, cost: number): Promise<ThrottleStatus> {
    const shared = await this.run(key, cost, 'give');
    return shared ? this.statusOf(shared.available) : this.local.giveBack(key, cost);
  }

  async status(key: string): Promise<ThrottleStatus> {
    const shared = await this.run(key, 0, 'peek');
    return shared ? this.statusOf(shared.available) : this.local.status(key);
  }

  private async run(key: string, cost: number, mode: 'take' | 'give' | 'peek'): Promise<{ taken: boolean; available: number } | undefined> {
    const reply = await this.bucket([this.store.key(`budget:${key}`)], [this.maximumAvailable, this.restoreRate, cost, mode]);
    if (!Array.isArray(reply)) return undefined;
    return { taken: reply[0] === 1, available: Number(reply[1]) };
  }

  private statusOf(available: number): ThrottleStatus {
    return { maximumAvailable: this.maximumAvailable, currentlyAvailable: Math.floor(available), restoreRate: this.restoreRate };
  }
}
