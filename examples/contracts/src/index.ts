// The messages the example services exchange. Each contract is a type, a version and a zod
// schema; both sides import the same definitions, so producer and consumer cannot disagree on
// a field without the compiler noticing.
import { defineMessage } from '@txbox/core';
import { z } from 'zod';

const orderId = z.uuid();
const cents = z.number().int().positive();
const currency = z.enum(['EUR', 'USD', 'GBP']);

/**
 * The first version of OrderPlaced: a bare amount in cents, implicitly euros. Producers that
 * have not been upgraded yet (a rolling deploy) still write it.
 */
export const OrderPlacedV1 = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId, customerId: z.string().min(1), totalCents: cents }),
});

/**
 * The current OrderPlaced: the amount carries its currency. Consumers register this version;
 * a v1 payload is validated against v1, upcast through `transform`, then validated against v2,
 * so handlers only ever see v2.
 */
export const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 2,
  schema: z.object({
    orderId,
    customerId: z.string().min(1),
    total: z.object({ amountCents: cents, currency }),
  }),
  upcast: {
    from: OrderPlacedV1,
    transform: (v1) => ({
      orderId: v1.orderId,
      customerId: v1.customerId,
      total: { amountCents: v1.totalCents, currency: 'EUR' as const },
    }),
  },
});

/** Billing charged the order. */
export const PaymentSucceeded = defineMessage({
  type: 'billing.payment-succeeded',
  version: 1,
  schema: z.object({ orderId, paymentId: z.uuid(), amountCents: cents, currency }),
});

/** Billing declined the order; orders compensates by cancelling it. */
export const PaymentFailed = defineMessage({
  type: 'billing.payment-failed',
  version: 1,
  schema: z.object({ orderId, paymentId: z.uuid(), reason: z.string().min(1) }),
});

/** The ordering key of every message about one order: they are published and consumed in order. */
export function orderKey(id: string): string {
  return `order:${id}`;
}
