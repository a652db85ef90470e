// Everything the billing service reads from its environment, in one place. The demo
// orchestrator imports this module too (`@txbox-examples/billing/settings`), so it cleans up
// exactly the queues this service declares.

/** The consumer group: one queue, one deduplication scope, shared by every billing instance. */
export const BILLING_GROUP = 'billing';

/** Retry steps of a failing handler (one delay queue each), then the dead-letter queue. */
export const BILLING_RETRY_DELAYS_MS = [250, 1000, 5000];

export interface BillingSettings {
  /** The billing service's own database (database per service). */
  databaseUrl: string;
  amqpUrl: string;
  /** Topic exchange shared by the services. */
  exchange: string;
  /** Orders above this amount are declined (the card's single-charge limit). */
  chargeLimitCents: number;
  /** How long the fake payment provider takes per call. */
  providerLatencyMs: number;
  /** Handlers running at once. */
  concurrency: number;
  /** Stop when standard input closes (the demo runs the service as a child process). */
  exitWithParent: boolean;
}

export function readBillingSettings(env: NodeJS.ProcessEnv = process.env): BillingSettings {
  return {
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/txbox_demo_billing',
    amqpUrl: env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
    exchange: env.EXCHANGE || 'txbox.events',
    chargeLimitCents: positiveInteger(env.CHARGE_LIMIT_CENTS, 50_000, 'CHARGE_LIMIT_CENTS'),
    providerLatencyMs: positiveInteger(env.PROVIDER_LATENCY_MS, 20, 'PROVIDER_LATENCY_MS'),
    concurrency: positiveInteger(env.CONCURRENCY, 4, 'CONCURRENCY'),
    exitWithParent: env.EXIT_WITH_PARENT === '1',
  };
}

function positiveInteger(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}
