import type { ApolloServerPlugin } from '@apollo/server';
import type { Config } from '../config';
import { ThrottledError } from '../graphql/errors';
import type { RequestContext } from '../core/context';
import { CostBudget, type KeyBudgets, type ThrottleStatus } from './cost-budget';
import { addExtension, checkLimits, measureRequest, type QueryLimits } from './limits';
import { TenantSlots } from './tenant-slots';
import type { SharedStore } from '../db/redis';
import { SharedCostBudget } from './shared-cost-budget';

/** How long an operation waits for one of its tenant's slots before THROTTLED; as long as the pool's wait for a connection. */
const SLOT_WAIT_MS = 5_000;
/** Longest a costly operation holds back while other tenants have operations running (see TenantSlots.yieldToOthers). */
const COSTLY_OPERATION_MAX_YIELD_MS = 1_000;
/** Longest a refusal for want of budget is held before it is sent. */
const THROTTLED_ANSWER_DELAY_MS = 1_000;
/** The retry hint of a refusal for want of a slot: slots free as operations finish, typically within a second. */
const SLOT_RETRY_AFTER_MS = 1_000;

/**
 * Apollo Server plugin for fairness between tenants. Each API key has a cost budget (a leaky bucket, see
 * CostBudget) that every admitted operation spends its measured cost from, reported in
 * `extensions.cost.throttleStatus` of every response to an authenticated request; and each tenant has a cap on
 * operations in flight, by number and by cost (TenantSlots). An operation over either is refused with THROTTLED (HTTP 429, Retry-After)
 * before any resolver runs. Operations the query limits refuse are left to queryLimitsPlugin and cost nothing;
 * requests without a key have no budget (every tenant field refuses them anyway).
 */
export function fairnessPlugin(
  config: Pick<Config, 'graphql' | 'fairness'>,
  /** The keys' budgets, when shared with another entry point (subscriptions over WebSocket) or in Redis; else made from config. */
  sharedBudget?: KeyBudgets | null,
): ApolloServerPlugin<RequestContext> {
  const { fairness } = config;
  const limits: QueryLimits = config.graphql;
  const budget = sharedBudget !== undefined ? sharedBudget : costBudgetOf(config);
  const slots =
    fairness.tenantConcurrency > 0
      ? new TenantSlots(fairness.tenantConcurrency, fairness.tenantQueueLength, SLOT_WAIT_MS, fairness.tenantCostInFlight)
      : null;
  return {
    async requestDidStart({ contextValue }) {
      const viewer = contextValue.viewer;
      if (!viewer || (!budget && !slots)) return;
      // An admin key acting for several tenants has a budget per tenant, as a Shopify app has per shop.
      const budgetKey = `${viewer.apiKeyId}/${viewer.tenantId ?? ''}`;
      const tenantKey = viewer.tenantId ?? `key:${viewer.apiKeyId}`;
      let charged = 0;
      let executed = false;
      let release: (() => void) | undefined;
      let retryAfterMs: number | undefined;
      let holdMs = 0;
      /** The budget as the last take or give-back left it, so the response reports it without asking again. */
      let status: ThrottleStatus | undefined;
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const measured = measureRequest(schema, document, operation, request);
          if (checkLimits(measured, limits)) return;
          if (budget) {
            const decision = await budget.take(budgetKey, measured.cost);
            status = decision.status;
            if (!decision.taken) {
              retryAfterMs = decision.retryAfterMs;
              holdMs = Math.min(decision.retryAfterMs, THROTTLED_ANSWER_DELAY_MS);
              throw budgetExceeded(measured.cost, decision.status, decision.retryAfterMs);
            }
            charged = measured.cost;
          }
          if (slots) {
            const ticket = slots.acquire(tenantKey, measured.cost);
            release = ticket.release;
            if (!(await ticket.granted)) {
              retryAfterMs = SLOT_RETRY_AFTER_MS;
              throw new ThrottledError(
                `Throttled: this tenant already has ${slots.queueLength} operations waiting behind the ones running (at most ` +
                  `${slots.limit} at once, together costing at most ${slots.costLimit}); retry when one of them has finished.`,
                { retryAfterMs: SLOT_RETRY_AFTER_MS, maxConcurrency: slots.limit, maxCostInFlight: slots.costLimit },
              );
            }
            if (measured.cost >= fairness.costlyOperation) await slots.yieldToOthers(tenantKey, COSTLY_OPERATION_MAX_YIELD_MS);
          }
        },
        async executionDidStart() {
          executed = true;
        },
        async willSendResponse({ response }) {
          release?.();
          // An operation refused after it was charged (for want of a slot, or by another plugin) cost nothing.
          if (budget && charged > 0 && !executed) status = await budget.giveBack(budgetKey, charged);
          if (retryAfterMs !== undefined) response.http.headers.set('retry-after', String(Math.ceil(retryAfterMs / 1000)));
          if (budget) addExtension(response, 'cost', { throttleStatus: status ?? (await budget.status(budgetKey)) });
          // A refusal for want of budget is held a moment: a client that ignores Retry-After then retries at most once
          // a second per connection, instead of spinning on refusals that cost the server more than they cost it.
          if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
        },
      };
    },
  };
}

function budgetExceeded(cost: number, status: ThrottleStatus, retryAfterMs: number): ThrottledError {
  return new ThrottledError(
    `Throttled: this operation costs ${cost} points and this API key has ${status.currentlyAvailable} of its ` +
      `${status.maximumAvailable} available; they restore at ${status.restoreRate} per second, so retry in ` +
      `${Math.ceil(retryAfterMs / 1000)} s, or ask for fewer or smaller pages.`,
    { retryAfterMs, requested: cost, currentlyAvailable: status.currentlyAvailable },
  );
}

/**
 * The keys' cost budgets the configuration asks for: in Redis when the server has a shared store (REDIS_URL), else in
 * this process; null when COST_BUDGET_MAX is 0.
 */
export function costBudgetOf(config: Pick<Config, 'fairness'>, store?: SharedStore | null): KeyBudgets | null {
  const { budgetMaximum, budgetRestoreRate } = config.fairness;
  if (budgetMaximum <= 0) return null;
  return store ? new SharedCostBudget(store, budgetMaximum, budgetRestoreRate) : new CostBudget(budgetMaximum, budgetRestoreRate);
}
