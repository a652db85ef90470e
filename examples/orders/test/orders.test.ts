// The orders service's producer and handlers, tested as users of txbox test theirs: the real Nest
// module on the real PostgreSQL, @txbox/testing to publish what OrdersService committed and to
// run the @OnMessage handlers through the inbox (dedup record, TypeORM transaction) without a broker.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TxboxModule, TxboxRuntime } from '@txbox/nestjs';
import { deliver, drainOutbox } from '@txbox/testing';
import { OrderPlaced, orderKey, PaymentFailed, PaymentSucceeded } from '@txbox-examples/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTopology, testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
// The build (`npm run build`), not the sources: Nest and TypeORM read the decorator metadata tsc emits.
import { OrdersModule } from '../dist/app.module.js';
import { dataSourceOptions } from '../dist/data-source.js';
import { CreateOrders1732300000000 } from '../dist/migrations/1732300000000-create-orders.js';
import { OrdersService } from '../dist/orders.service.js';

const { schema, pool, databaseUrl } = useTestSchema('orders_example');
const broker = useAmqp();
const exchange = uniqueName('orders_example_events');
const group = uniqueName('orders_example');
let app: INestApplication;

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA "${schema}"`);
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        ...dataSourceOptions(databaseUrl),
        // The service's own tables, in this file's schema (the entities name them unqualified).
        migrations: [CreateOrders1732300000000],
        migrationsRun: true,
        extra: { options: `-c search_path=${schema}` },
      }),
      TxboxModule.forRoot({
        contracts: [OrderPlaced],
        amqpUrl: testAmqpUrl(),
        exchange,
        schema,
        runMigrations: true,
        defaultGroup: group,
        relay: false, // drainOutbox publishes, so a test sees exactly what was committed
      }),
      OrdersModule,
    ],
  }).compile();
  app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.init();
});
afterAll(async () => {
  const consumer = app?.get(TxboxRuntime).consumers.get(group);
  await app?.close();
  if (consumer) await deleteTopology(broker.channel, consumer.topology);
  await broker.channel.deleteExchange(exchange).catch(() => {});
});

const drain = () => drainOutbox({ database: pool, amqp: testAmqpUrl(), schema });
const consumer = () => {
  const found = app.get(TxboxRuntime).consumers.get(group);
  if (!found) throw new Error(`no consumer for group ${group}`);
  return found;
};

async function orderState(orderId: string) {
  const { rows: orders } = await pool.query(`SELECT status FROM "${schema}".orders WHERE id = $1`, [orderId]);
  const { rows: history } = await pool.query(`SELECT event FROM "${schema}".order_history WHERE order_id = $1`, [
    orderId,
  ]);
  return { status: orders[0]?.status as string | undefined, history: history.map((h) => h.event as string) };
}

describe('placing an order', () => {
  it('commits the order and publishes exactly one OrderPlaced on the order’s key', async () => {
    const placed = await app
      .get(OrdersService)
      .place({ customerId: 'c-1', amountCents: 1250, currency: 'EUR', eventVersion: 2 });
    expect(await orderState(placed.orderId)).toEqual({ status: 'pending', history: [] });
    const published = await drain();
    expect(published).toEqual([
      expect.objectContaining({
        id: placed.messageId,
        type: OrderPlaced.type,
        version: 2,
        key: orderKey(placed.orderId),
        payload: { orderId: placed.orderId, customerId: 'c-1', total: { amountCents: 1250, currency: 'EUR' } },
      }),
    ]);
  });

  it('an instance not yet upgraded writes OrderPlaced v1', async () => {
    const placed = await app
      .get(OrdersService)
      .place({ customerId: 'c-2', amountCents: 300, currency: 'EUR', eventVersion: 1 });
    expect(await drain()).toMatchObject([{ version: 1, payload: { orderId: placed.orderId, totalCents: 300 } }]);
  });
});

describe('the end of the saga', () => {
  async function pendingOrder(): Promise<string> {
    const { orderId } = await app
      .get(OrdersService)
      .place({ customerId: 'c-3', amountCents: 100, currency: 'EUR', eventVersion: 2 });
    await drain();
    return orderId;
  }
  const succeeded = (orderId: string) =>
    PaymentSucceeded.create({ orderId, paymentId: randomUUID(), amountCents: 100, currency: 'EUR' });

  it('PaymentSucceeded confirms the order once, however often it is delivered', async () => {
    const orderId = await pendingOrder();
    const { id, outcome } = await deliver(consumer(), succeeded(orderId));
    expect(outcome).toBe('processed');
    expect(await deliver(consumer(), succeeded(orderId), { id })).toEqual({ id, outcome: 'duplicate' });
    expect(await orderState(orderId)).toEqual({ status: 'confirmed', history: [PaymentSucceeded.type] });
  });

  it('PaymentFailed cancels the order (the compensation)', async () => {
    const orderId = await pendingOrder();
    await deliver(consumer(), PaymentFailed.create({ orderId, paymentId: randomUUID(), reason: 'declined' }));
    expect(await orderState(orderId)).toEqual({ status: 'cancelled', history: [PaymentFailed.type] });
  });

  it('a second, different payment event for a settled order is refused for good and changes nothing', async () => {
    const orderId = await pendingOrder();
    await deliver(consumer(), succeeded(orderId));
    await expect(
      deliver(consumer(), PaymentFailed.create({ orderId, paymentId: randomUUID(), reason: 'late' })),
    ).rejects.toMatchObject({ retryable: false, message: `order ${orderId} is not pending` });
    expect(await orderState(orderId)).toEqual({ status: 'confirmed', history: [PaymentSucceeded.type] });
  });
});
