// The vocabulary both generators draw from: tenants, channels, locales, support topics with their
// tools and knowledge-base documents, and models with their prices.
import type { Random } from './random';

/** Tenants in seed order; tenant number n > 3 gets slug `tenant-n`. */
const NAMED_TENANTS: readonly (readonly [slug: string, name: string])[] = [
  ['acme', 'Acme Corporation'],
  ['globex', 'Globex Corporation'],
  ['initech', 'Initech'],
];

/** The slug and display name of the tenant at a zero-based index. */
export function tenantAt(index: number): { id: string; name: string } {
  const named = NAMED_TENANTS[index];
  if (named) return { id: named[0], name: named[1] };
  return { id: `tenant-${index + 1}`, name: `Tenant ${index + 1} Ltd.` };
}

/** Session channels with their (skewed) share of traffic. */
export const CHANNELS = [
  ['web', 45],
  ['app', 25],
  ['api', 12],
  ['email', 8],
  ['phone', 6],
  ['wechat', 4],
] as const;

/** Locales with their share of non-WeChat traffic (WeChat is always zh-CN). */
export const LOCALES = [
  ['en-US', 50],
  ['en-GB', 10],
  ['de-DE', 8],
  ['fr-FR', 8],
  ['es-ES', 6],
  ['ja-JP', 5],
  ['zh-CN', 5],
  ['pt-BR', 4],
] as const;

/** A user locale. */
export type Locale = (typeof LOCALES)[number][0];

/** Customer tiers with their share. */
export const TIERS = [
  ['free', 55],
  ['pro', 30],
  ['business', 11],
  ['enterprise', 4],
] as const;

/** User agents of web sessions. */
export const USER_AGENTS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
];

/** App platforms and versions of app sessions. */
export const APP_BUILDS: readonly string[] = ['ios/5.12.0', 'ios/5.11.2', 'android/5.12.0', 'android/5.10.4'];

/**
 * A model and its price. Prices are in units of 1e-8 USD per token (= USD per million tokens × 100),
 * so costs add up exactly in integers and print with the 8 decimals of conversations.cost_usd.
 */
export interface ModelSpec {
  readonly name: string;
  readonly inputUnits: number;
  readonly outputUnits: number;
  /** How the model reports reasoning in LangChain messages, if it reasons. */
  readonly reasoning?: 'thinking' | 'reasoning';
}

/**
 * Models of the chat bot sessions and the agent threads, priced as convoql's default MODEL_PRICES
 * (src/config.ts). Claude Sonnet reports reasoning as Anthropic `thinking` blocks, Haiku as
 * LangChain v1 standard `reasoning` blocks.
 */
export const MODELS = {
  mini: { name: 'gpt-4o-mini', inputUnits: 15, outputUnits: 60 },
  large: { name: 'gpt-4o', inputUnits: 250, outputUnits: 1000 },
  sonnet: { name: 'claude-sonnet-4', inputUnits: 300, outputUnits: 1500, reasoning: 'thinking' },
  haiku: { name: 'claude-haiku-4', inputUnits: 80, outputUnits: 400, reasoning: 'reasoning' },
} as const satisfies Record<string, ModelSpec>;

/** The cost of a model call in units of 1e-8 USD (output tokens include reasoning tokens). */
export function costUnits(model: ModelSpec, inputTokens: number, outputTokens: number): number {
  return inputTokens * model.inputUnits + outputTokens * model.outputUnits;
}

/** Formats units of 1e-8 USD as a decimal string with 8 places. */
export function formatUsd(units: number): string {
  return `${Math.floor(units / 1e8)}.${String(units % 1e8).padStart(8, '0')}`;
}

/** Values filled into `{placeholders}` of the templates. */
export interface Vars {
  readonly tenant: string;
  readonly order: string;
  readonly product: string;
  readonly carrier: string;
  readonly eta: string;
  readonly amount: string;
  readonly email: string;
  readonly ticket: string;
  readonly plan: string;
  readonly city: string;
}

const PRODUCTS: readonly string[] = [
  'Aurora 2 headphones',
  'TrailPro backpack',
  'Nimbus smart thermostat',
  'Vector standing desk',
  'Pixel Pal camera',
  'Ember kettle',
  'Orbit robot vacuum',
  'Zen ergonomic chair',
];
const CARRIERS: readonly string[] = ['UPS', 'DHL Express', 'FedEx', 'La Poste', 'Royal Mail', 'SF Express'];
const PLANS: readonly string[] = ['Starter', 'Pro', 'Team', 'Business'];
const CITIES: readonly string[] = ['Berlin', 'Lyon', 'Austin', 'Osaka', 'São Paulo', 'Shenzhen', 'Leeds'];

/** Draws the variables of one conversation; `anchor` (ms) dates the delivery estimate. */
export function drawVars(rng: Random, tenant: string, anchor: number): Vars {
  const eta = new Date(anchor + rng.int(1, 6) * 86_400_000).toISOString().slice(0, 10);
  return {
    tenant,
    order: `A-${rng.int(1000, 99999)}`,
    product: rng.pick(PRODUCTS),
    carrier: rng.pick(CARRIERS),
    eta,
    amount: `${rng.int(9, 499)}.${rng.pick(['00', '49', '90', '99'])}`,
    email: `${rng.pick(['jane', 'li.wei', 'm.muller', 'sofia', 'kenji', 'ana.p', 'tom'])}${rng.int(1, 999)}@example.com`,
    ticket: `T-${rng.int(10000, 99999)}`,
    plan: rng.pick(PLANS),
    city: rng.pick(CITIES),
  };
}

/** Replaces `{name}` placeholders with the variables. */
export function fill(template: string, vars: Vars): string {
  return template.replace(/\{(\w+)\}/g, (match, key: string) => (key in vars ? String(vars[key as keyof Vars]) : match));
}

/** A knowledge-base document the assistant retrieves from. */
export interface KbDoc {
  readonly source: string;
  readonly snippet: string;
}

/** A tool the assistant can call: arguments and result from the conversation's variables. */
export interface ToolSpec {
  readonly name: string;
  args(vars: Vars): Record<string, unknown>;
  result(vars: Vars, rng: Random): Record<string, unknown>;
}

/** A support topic: what users ask, what the assistant answers, the tools and documents it uses. */
export interface Topic {
  readonly key: string;
  readonly openers: readonly string[];
  readonly localized: Partial<Record<Locale, readonly string[]>>;
  readonly followUps: readonly string[];
  readonly toolIntros: readonly string[];
  readonly answers: readonly string[];
  readonly tools: readonly ToolSpec[];
  readonly docs: readonly KbDoc[];
}

const lookupOrder: ToolSpec = {
  name: 'lookup_order',
  args: (v) => ({ orderId: v.order }),
  result: (v, rng) => ({
    orderId: v.order,
    status: rng.pick(['processing', 'shipped', 'shipped', 'out_for_delivery', 'delivered']),
    carrier: v.carrier,
    eta: v.eta,
  }),
};
const getCustomer: ToolSpec = {
  name: 'get_customer',
  args: (v) => ({ email: v.email }),
  result: (v, rng) => ({ customerId: `cus_${rng.base62(10)}`, email: v.email, plan: v.plan, since: 2019 + rng.int(0, 6) }),
};

/** The support topics of the sessions and threads. */
export const TOPICS: readonly Topic[] = [
  {
    key: 'order-status',
    openers: [
      'Hi, where is my order {order}?',
      "My package {order} hasn't arrived yet. Can you check?",
      'Can you tell me when order {order} will be delivered?',
      'order {order} status pls',
    ],
    localized: {
      'de-DE': ['Hallo, wo ist meine Bestellung {order}?'],
      'fr-FR': ['Bonjour, où en est ma commande {order} ?'],
      'es-ES': ['¿Dónde está mi pedido {order}?'],
      'ja-JP': ['注文 {order} の配送状況を教えてください。'],
      'zh-CN': ['我的订单 {order} 什么时候到？'],
      'pt-BR': ['Olá, onde está meu pedido {order}?'],
    },
    followUps: [
      'Can I change the delivery address to {city}?',
      'Is there a tracking link?',
      'What if nobody is home?',
      'It says delivered but I have nothing 😟',
    ],
    toolIntros: ['Let me look up order {order} for you.', 'One moment while I check the shipment status…'],
    answers: [
      'Your order {order} shipped with {carrier} and should arrive by {eta}.',
      'Good news: {order} is on its way with {carrier}. Estimated delivery: {eta}.',
      'The carrier ({carrier}) will leave a notice and try again the next business day.',
      'I have opened an investigation with {carrier}; you will hear from us within 48 hours (ticket {ticket}).',
    ],
    tools: [lookupOrder, getCustomer],
    docs: [
      { source: 'kb/shipping-times.md', snippet: 'Standard shipping takes 3–5 business days; express orders ship the same day…' },
      { source: 'kb/missing-packages.md', snippet: 'If a package shows as delivered but has not arrived, wait 24 hours, then…' },
    ],
  },
  {
    key: 'returns',
    openers: [
      'I want to return the {product} I bought.',
      'How do I send back my {product}? It arrived damaged.',
      'Can I exchange order {order} for a different size?',
    ],
    localized: {
      'de-DE': ['Ich möchte mein {product} zurückgeben.'],
      'fr-FR': ['Je voudrais retourner mon {product}, s’il vous plaît.'],
      'ja-JP': ['{product} を返品したいです。'],
    },
    followUps: ['Do I have to pay for the return label?', 'How long does the refund take?', 'Can I drop it off in a store in {city}?'],
    toolIntros: ['I can start the return right away.', 'Let me create a return for order {order}.'],
    answers: [
      'Items can be returned within 30 days of delivery. I created a prepaid return label and sent it to {email}.',
      'Refunds are issued to the original payment method within 5–7 business days after we receive the item.',
      'Yes, any store accepts returns; bring the QR code from the email.',
    ],
    tools: [
      {
        name: 'create_return',
        args: (v) => ({ orderId: v.order, reason: 'damaged' }),
        result: (_v, rng) => ({ rmaId: `RMA-${rng.int(100000, 999999)}`, labelUrl: `https://returns.example.com/l/${rng.base62(8)}` }),
      },
      lookupOrder,
    ],
    docs: [
      { source: 'kb/returns-policy.md', snippet: 'Items can be returned within 30 days of delivery in their original packaging…' },
      { source: 'kb/refunds.md', snippet: 'Refunds are issued to the original payment method within 5–7 business days…' },
    ],
  },
  {
    key: 'billing',
    openers: [
      'I was charged twice for my {plan} subscription this month.',
      'Why is my invoice ${amount}? I expected less.',
      'Can I get a VAT invoice for my last payment?',
    ],
    localized: {
      'de-DE': ['Mir wurde das {plan}-Abo doppelt berechnet.'],
      'es-ES': ['Me cobraron dos veces la suscripción {plan}.'],
      'zh-CN': ['我的 {plan} 订阅这个月被扣了两次费用。'],
    },
    followUps: ['When will I see the refund?', 'Please send it to {email}.', 'Can I switch to annual billing?'],
    toolIntros: ['Let me pull up your recent invoices.', 'Checking your billing history…'],
    answers: [
      'I found a duplicate charge of ${amount} and refunded it; it will show up within 5 business days.',
      'The invoice includes the prorated upgrade to {plan}. Here is the breakdown: base ${amount}, plus tax.',
      'Done — the VAT invoice has been emailed to {email}.',
    ],
    tools: [
      getCustomer,
      {
        name: 'list_invoices',
        args: (v) => ({ email: v.email, limit: 3 }),
        result: (v, rng) => ({
          invoices: [
            { id: `in_${rng.base62(8)}`, amount: v.amount, currency: 'USD', status: 'paid' },
            { id: `in_${rng.base62(8)}`, amount: v.amount, currency: 'USD', status: 'paid' },
          ],
        }),
      },
    ],
    docs: [{ source: 'kb/billing-faq.md', snippet: 'Duplicate charges are usually authorization holds that drop off within 3 days…' }],
  },
  {
    key: 'account-access',
    openers: ["I can't log in to my account.", 'Password reset email never arrives', 'My account is locked after too many attempts'],
    localized: {
      'fr-FR': ['Je n’arrive plus à me connecter à mon compte.'],
      'ja-JP': ['アカウントにログインできません。'],
      'pt-BR': ['Não consigo entrar na minha conta.'],
    },
    followUps: ['I use {email}', 'Still nothing in my inbox.', 'Got it, thanks! 🙏'],
    toolIntros: ['I will send you a new reset link.', 'Let me check the account status.'],
    answers: [
      'I sent a password reset link to {email}. It is valid for 30 minutes — please also check your spam folder.',
      'Your account was locked for 15 minutes after 5 failed attempts; it is unlocked now.',
      'For security I cannot change the email on the account here, but I have opened ticket {ticket} for our team.',
    ],
    tools: [
      {
        name: 'send_password_reset',
        args: (v) => ({ email: v.email }),
        result: (_v, rng) => ({ sent: true, expiresInMinutes: 30, requestId: `req_${rng.base62(10)}` }),
      },
      getCustomer,
    ],
    docs: [{ source: 'kb/account-security.md', snippet: 'Accounts lock for 15 minutes after five failed sign-in attempts…' }],
  },
  {
    key: 'product-question',
    openers: [
      'Does the {product} work with Apple Home?',
      'What is the battery life of the {product}?',
      'Is the {product} in stock in {city}?',
      'Which is better for a small flat — the {product} or the Orbit robot vacuum?',
    ],
    localized: {
      'de-DE': ['Ist der {product} mit Alexa kompatibel?'],
      'zh-CN': ['{product} 支持苹果家庭吗？'],
      'ja-JP': ['{product} のバッテリーはどのくらい持ちますか？'],
    },
    followUps: ['And the warranty?', 'Can I order it today and get it by Friday?', 'ok cool'],
    toolIntros: ['Let me check stock levels.'],
    answers: [
      'Yes — the {product} supports Apple Home, Google Home and Alexa out of the box.',
      'The {product} lasts about 30 hours on a full charge (≈ 2 h to recharge).',
      'It comes with a 2-year warranty, extendable to 4 years with Care+.',
      'It is in stock in {city}; order before 2 pm for next-day delivery.',
    ],
    tools: [
      {
        name: 'check_inventory',
        args: (v) => ({ product: v.product, city: v.city }),
        result: (_v, rng) => ({ inStock: rng.chance(0.8), quantity: rng.int(0, 40) }),
      },
    ],
    docs: [
      { source: 'kb/product-specs.md', snippet: 'Battery: up to 30 h playback; USB-C fast charging (10 min = 3 h)…' },
      { source: 'kb/warranty.md', snippet: 'All devices carry a 2-year limited warranty covering manufacturing defects…' },
    ],
  },
  {
    key: 'cancel-subscription',
    openers: ['How do I cancel my {plan} plan?', 'Please cancel my subscription.', 'I want to downgrade from {plan} to Starter'],
    localized: { 'es-ES': ['Quiero cancelar mi plan {plan}.'], 'de-DE': ['Bitte kündigen Sie mein Abo.'] },
    followUps: ['Will I lose my data?', 'Effective immediately please', 'Can I pause it instead?'],
    toolIntros: ['I can take care of that.', 'Let me find your subscription.'],
    answers: [
      'Your {plan} plan is cancelled and stays active until the end of the billing period.',
      'Your data is kept for 90 days, so you can reactivate without losing anything.',
      'You can pause for up to 3 months instead; billing resumes automatically afterwards.',
    ],
    tools: [
      getCustomer,
      {
        name: 'cancel_subscription',
        args: (v) => ({ email: v.email, plan: v.plan, atPeriodEnd: true }),
        result: (v, rng) => ({ subscriptionId: `sub_${rng.base62(10)}`, status: 'canceled', endsOn: v.eta }),
      },
    ],
    docs: [{ source: 'kb/cancellation-policy.md', snippet: 'Cancellations take effect at the end of the current billing period…' }],
  },
  {
    key: 'technical-issue',
    openers: [
      'The app crashes every time I open settings.',
      'Sync is stuck at 99% since yesterday',
      'Error 503 when uploading files larger than 2 GB',
      'The {product} keeps disconnecting from Wi-Fi',
    ],
    localized: {
      'fr-FR': ['L’application plante quand j’ouvre les réglages.'],
      'zh-CN': ['应用一打开设置就崩溃。'],
    },
    followUps: ['I am on the latest version.', 'Tried that already, no luck', 'That fixed it, thanks!'],
    toolIntros: ['Let me check for known incidents.', "I'll open a ticket with our engineers."],
    answers: [
      'This is a known issue in version 5.11; please update to 5.12 which contains the fix.',
      'Please sign out, clear the cache under Settings → Storage, and sign in again.',
      'I opened ticket {ticket} with priority high; our engineers will reply within 24 hours.',
    ],
    tools: [
      {
        name: 'check_status_page',
        args: () => ({ component: 'sync' }),
        result: (_v, rng) => ({ incident: rng.chance(0.3), status: rng.pick(['operational', 'degraded']) }),
      },
      {
        name: 'create_ticket',
        args: (v) => ({ priority: 'high', summary: `Customer report (${v.product})` }),
        result: (v) => ({ ticketId: v.ticket, queue: 'tier-2' }),
      },
    ],
    docs: [{ source: 'kb/troubleshooting/app-crashes.md', snippet: 'If the app crashes on start, clear the cache and reinstall…' }],
  },
];

/** Things users say to close a conversation. */
export const USER_CLOSINGS: readonly string[] = [
  'Thanks!',
  'Perfect, thank you 🙏',
  'ok',
  "That's all, bye",
  'Great, that worked 👍',
  'Merci !',
  'Danke schön!',
  '谢谢！',
];

/** Things the assistant says when the user closes. */
export const ASSISTANT_CLOSINGS: readonly string[] = [
  "You're welcome! Is there anything else I can help with?",
  'Happy to help — have a great day!',
  'Glad I could help. 😊',
];

/** Notes the platform posts as SYSTEM messages in the middle of a session. */
export const SYSTEM_NOTES: readonly string[] = [
  'Conversation transferred to a human agent (queue: tier-1).',
  'User verified via one-time code.',
  'Customer satisfaction survey sent.',
];

/** Error messages of failing tools and their codes. */
export const TOOL_FAILURES: readonly string[] = [
  'timeout after 5s',
  'upstream returned 502 Bad Gateway',
  'order not found',
  'rate limit exceeded (429)',
];

/** Errors attached to assistant messages, with the content the user saw instead. */
export const MESSAGE_ERRORS: readonly (readonly [code: string, message: string])[] = [
  ['MODEL_TIMEOUT', 'Upstream model timed out'],
  ['RATE_LIMITED', 'Model provider rate limit exceeded'],
  ['RETRIEVAL_FAILED', 'Knowledge base search failed: index unavailable'],
  ['CONTENT_FILTERED', 'Response blocked by the content filter'],
];

/** The system prompt of a tenant's assistant. */
export function systemPrompt(tenantName: string, channel: string): string {
  return `You are ${tenantName}'s customer support assistant on the ${channel} channel. Be concise and friendly, never invent order data, and use the tools to look things up.`;
}
