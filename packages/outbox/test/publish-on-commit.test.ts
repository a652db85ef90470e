import 'reflect-metadata';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderCancelled, OrderPlaced, outboxRowCount } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_commit');
const amqp = useAmqp();
const exchange = uniqueName('commit_events');
const outbox = createOutbox({ contracts: [OrderPlaced, OrderCancelled], schema, exchange });
const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false });
let dataSource: DataSource;

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  dataSource = new DataSource({ type: 'postgres', url: databaseUrl, synchronize: false, entities: [] });
  await dataSource.initialize();
});

afterAll(async () => {
  await relay.stop();
  await dataSource?.destroy();
});

describe('publish if and only if the transaction commits', () => {
  it('a committed pg transaction’s messages arrive with the documented properties and headers', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const [placedId, cancelledId] = await inTransaction(pool, (client) =>
      outbox.add(client, [
        OrderPlaced.create(
          { orderId: 'o-1', totalCents: 1250 },
          {
            key: 'order:o-1',
            correlationId: 'corr-1',
            causationId: 'cause-1',
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'vendor=1',
            headers: { tenant: 'acme' },
          },
        ),
        OrderCancelled.create(
          { orderId: 'o-1', reason: 'changed mind' },
          { key: 'order:o-1', routingKey: 'custom.rk' },
        ),
      ]),
    );
    await relay.runOnce();
    const [placed, cancelled] = await collector.waitFor(2);

    expect(placed?.fields.exchange).toBe(exchange);
    expect(placed?.fields.routingKey).toBe('orders.order-placed');
    expect(JSON.parse(placed?.content.toString() ?? '')).toEqual({ orderId: 'o-1', totalCents: 1250 });
    expect(placed?.properties).toMatchObject({
      messageId: placedId,
      type: 'orders.order-placed',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      correlationId: 'corr-1',
    });
    expect(typeof placed?.properties.timestamp).toBe('number');
    expect(placed?.properties.headers).toMatchObject({
      'x-txbox-version': 1,
      'x-txbox-key': 'order:o-1',
      // What a partitioned group's consistent-hash exchange routes on: the key (the id without one).
      'x-txbox-partition-key': 'order:o-1',
      'x-txbox-causation-id': 'cause-1',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=1',
      tenant: 'acme',
    });
    expect(new Date(String(placed?.properties.headers?.['x-txbox-occurred-at'])).getTime()).not.toBeNaN();
    expect(cancelled?.properties.messageId).toBe(cancelledId);
    expect(cancelled?.fields.routingKey).toBe('custom.rk');
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('a rolled-back pg transaction’s messages are never published', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const client = await pool.connect();
    await client.query('BEGIN');
    await outbox.add(client, OrderPlaced.create({ orderId: 'rolled-back', totalCents: 1 }));
    await client.query('ROLLBACK');
    client.release();
    const committedId = await inTransaction(pool, (c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'committed', totalCents: 2 })),
    );
    const result = await relay.runOnce();
    expect(result.claimed).toBe(1);
    const [only] = await collector.waitFor(1);
    expect(only?.properties.messageId).toBe(committedId);
    // The queue got nothing else.
    expect(await collector.flush()).toHaveLength(1);
    expect(collector.messages).toHaveLength(1);
  });

  it('a committed TypeORM transaction’s messages arrive; a rolled-back one’s never do', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const committedId = await dataSource.transaction((manager) =>
      outbox.add(manager, OrderPlaced.create({ orderId: 'typeorm-ok', totalCents: 3 })),
    );
    await expect(
      dataSource.transaction(async (manager) => {
        await outbox.add(manager, OrderPlaced.create({ orderId: 'typeorm-rolled-back', totalCents: 4 }));
        throw new Error('domain rule failed');
      }),
    ).rejects.toThrow('domain rule failed');
    await relay.runOnce();
    const [only] = await collector.waitFor(1);
    expect(only?.properties.messageId).toBe(committedId);
    expect(JSON.parse(only?.content.toString() ?? '')).toEqual({ orderId: 'typeorm-ok', totalCents: 3 });
    expect(await collector.flush()).toHaveLength(1);
    expect(collector.messages).toHaveLength(1);
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('a delayed message is not published before its delay', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const id = await inTransaction(pool, (c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'later', totalCents: 5 }, { delayMs: 1500 })),
    );
    expect((await relay.runOnce()).claimed).toBe(0);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await relay.runOnce()).claimed).toBe(1);
    const [only] = await collector.waitFor(1);
    expect(only?.properties.messageId).toBe(id);
  });

  it('a large batch is written in array order, in as few statements as the parameter limit allows', async () => {
    const messages = Array.from({ length: 6_000 }, (_, i) =>
      OrderPlaced.create({ orderId: `bulk-${i}`, totalCents: i }, { key: `bulk:${i % 7}` }),
    );
    const ids = await inTransaction(pool, (c) => outbox.add(c, messages));
    const { rows } = await pool.query(`SELECT id FROM "${schema}".outbox ORDER BY seq`);
    expect(rows.map((r) => r.id)).toEqual(ids);
    await pool.query(`DELETE FROM "${schema}".outbox`);
  });
});
