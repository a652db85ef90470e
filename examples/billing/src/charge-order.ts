import { randomUUID } from 'node:crypto';
import { defineHandler } from '@txbox/inbox';
import { OrderPlaced, orderKey, PaymentFailed, PaymentSucceeded } from '@txbox-examples/contracts';
import type { FakePaymentProvider } from './payment-provider.js';

/**
 * OrderPlaced → charge or decline → PaymentSucceeded / PaymentFailed.
 *
 * Everything below runs in one PostgreSQL transaction that the inbox opened and that already
 * holds this message's inbox record: the payment row, the outgoing event (ctx.outbox) and the
 * deduplication record commit together, or not at all. A redelivery of the same message id
 * finds the record and never gets here.
 */
export function chargeOrderHandler(provider: FakePaymentProvider) {
  return defineHandler(OrderPlaced, async (order, ctx) => {
    // `order` is always v2: a v1 payload was upcast by the contract (ctx.envelope.version says
    // what was on the wire).
    const { amountCents, currency } = order.total;
    const authorization = await provider.authorize({
      idempotencyKey: ctx.envelope.id,
      customerId: order.customerId,
      amountCents,
    });
    const paymentId = randomUUID();
    await ctx.client.query(
      `INSERT INTO payments (id, order_id, status, amount_cents, currency, reason, order_event_id, order_event_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        paymentId,
        order.orderId,
        authorization.approved ? 'charged' : 'declined',
        amountCents,
        currency,
        authorization.approved ? null : authorization.reason,
        ctx.envelope.id,
        ctx.envelope.version,
      ],
    );
    // Same transaction; causation and correlation ids are carried over from the OrderPlaced.
    const options = { key: orderKey(order.orderId) };
    await ctx.outbox.add(
      authorization.approved
        ? PaymentSucceeded.create({ orderId: order.orderId, paymentId, amountCents, currency }, options)
        : PaymentFailed.create({ orderId: order.orderId, paymentId, reason: authorization.reason }, options),
    );
  });
}
