import { setTimeout as sleep } from 'node:timers/promises';

export type Authorization = { approved: true } | { approved: false; reason: string };

/**
 * A stand-in for an external payment provider. A call to a real one is a side effect outside
 * the billing database, so the inbox cannot make it exactly-once: a handler that fails after
 * the call runs again. Pass the message id as the provider's idempotency key.
 */
export class FakePaymentProvider {
  constructor(
    private readonly latencyMs: number,
    private readonly limitCents: number,
  ) {}

  async authorize(request: {
    idempotencyKey: string;
    customerId: string;
    amountCents: number;
  }): Promise<Authorization> {
    await sleep(this.latencyMs);
    if (request.amountCents > this.limitCents) return { approved: false, reason: 'amount above the card limit' };
    return { approved: true };
  }
}
