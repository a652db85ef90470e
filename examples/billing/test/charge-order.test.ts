// The billing service's handler, tested as users of txbox test theirs: with @txbox/testing, against
// the real PostgreSQL, through the real inbox (dedup record and handler transaction) without a
// broker, and the events it writes published by a real relay.
import { randomUUID } from 'node:crypto';
import { createConsumer, migrateInbox } from '@txbox/inbox';
import { createOutbox, migrateOutbox } from '@txbox/outbox';
import { deliver, drainOutbox } from '@txbox/testing';
import { OrderPlaced, OrderPlacedV1, orderKey, PaymentFailed, PaymentSucceeded } from '@txbox-examples/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { createBillingTables } from '../src/billing-tables.js';
import { chargeOrderHandler } from '../src/charge-order.js';
import { FakePaymentProvider } from '../src/payment-provider.js';

const { schema, databaseUrl } = useTestSchema('billing_example');
const broker = useAmqp();
// The handler names `payments` unqualified, as in production: its schema is first on the path.
const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
const exchange = uniqueName('billing_example_events');
const consumer = createConsumer({
  group: uniqueName('billing_example'),
  database: pool,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  outbox: createOutbox({ contracts: [PaymentSucceeded, PaymentFailed], schema, exchange }),
  handlers: [chargeOrderHandler(new FakePaymentProvider(0, 50_000))],
});
const drain = () => drainOutbox({ database: pool, amqp: testAmqpUrl(), schema });

beforeAll(async () => {
  await migrateOutbox({ database: pool, schema });
  await migrateInbox({ database: pool, schema });
  await createBillingTables(pool);
});
afterAll(async () => {
  await consumer.stop();
  await pool.end();
  await broker.channel.deleteExchange(exchange); // drainOutbox declared it
});

async function payments(orderId: string) {
  const { rows } = await pool.query(
    'SELECT status, amount_cents, order_event_version FROM payments WHERE order_id = $1',
    [orderId],
  );
  return rows;
}

const order = (amountCents: number) =>
  OrderPlaced.create({ orderId: randomUUID(), customerId: 'c-1', total: { amountCents, currency: 'EUR' } });

describe('charging an order', () => {
  it('charges once and publishes PaymentSucceeded, caused by the OrderPlaced, on the order’s key', async () => {
    const placed = order(1250);
    const { id, outcome } = await deliver(consumer, placed);
    expect(outcome).toBe('processed');
    expect(await payments(placed.payload.orderId)).toEqual([
      { status: 'charged', amount_cents: 1250, order_event_version: 2 },
    ]);
    const published = await drain();
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: PaymentSucceeded.type,
      key: orderKey(placed.payload.orderId),
      causationId: id,
      payload: { orderId: placed.payload.orderId, amountCents: 1250, currency: 'EUR' },
    });
  });

  it('a redelivered OrderPlaced charges nothing more and publishes nothing more', async () => {
    const placed = order(500);
    const { id } = await deliver(consumer, placed);
    await drain();
    expect(await deliver(consumer, placed, { id })).toEqual({ id, outcome: 'duplicate' });
    expect(await payments(placed.payload.orderId)).toHaveLength(1);
    expect(await drain()).toEqual([]);
  });

  it('an order above the card limit is declined: PaymentFailed, the compensation', async () => {
    const placed = order(60_000);
    await deliver(consumer, placed);
    expect(await payments(placed.payload.orderId)).toEqual([
      { status: 'declined', amount_cents: 60_000, order_event_version: 2 },
    ]);
    const [failed] = await drain();
    expect(failed).toMatchObject({
      type: PaymentFailed.type,
      payload: { orderId: placed.payload.orderId, reason: 'amount above the card limit' },
    });
  });

  it('a v1 OrderPlaced from a not yet upgraded producer is upcast and charged in euros', async () => {
    const orderId = randomUUID();
    await deliver(consumer, OrderPlacedV1.create({ orderId, customerId: 'c-2', totalCents: 700 }));
    expect(await payments(orderId)).toEqual([{ status: 'charged', amount_cents: 700, order_event_version: 1 }]);
    expect(await drain()).toMatchObject([{ type: PaymentSucceeded.type, payload: { currency: 'EUR' } }]);
  });
});
