import { AssertionError } from 'node:assert';
import { createConsumer, defineHandler, handlersFor, migrateInbox } from '@txbox/inbox';
import { knexSession } from '@txbox/orm/knex';
import { createOutbox, migrateOutbox } from '@txbox/outbox';
import { assertOutboxWrites, deliver, drainOutbox, outboxWrites } from '@txbox/testing';
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { createEffectsTable, effectCounts, PaymentRequested } from '../../inbox/test/fixtures.js';
import { inTransaction, OrderCancelled, OrderPlaced } from '../../outbox/test/fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('testing_kit');
const amqp = useAmqp();
const exchange = uniqueName('kit_events');
const outbox = createOutbox({ contracts: [OrderPlaced, OrderCancelled], schema, exchange });
let effects: string;

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
});

describe('drainOutbox publishes what is committed and returns it', () => {
  it('returns the committed messages in write order, and they reached the broker; rolled-back and delayed ones are not', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const [first, second] = await inTransaction(pool, (c) =>
      outbox.add(c, [
        OrderPlaced.create({ orderId: 'd-1', totalCents: 1 }, { key: 'order:d-1' }),
        OrderCancelled.create({ orderId: 'd-1', reason: 'changed mind' }, { key: 'order:d-1' }),
      ]),
    );
    await inTransaction(pool, (c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'later', totalCents: 2 }, { delayMs: 60_000 })),
    );
    await expect(
      inTransaction(pool, async (c) => {
        await outbox.add(c, OrderPlaced.create({ orderId: 'rolled-back', totalCents: 3 }));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');

    const published = await drainOutbox({ database: pool, amqp: testAmqpUrl(), schema });

    expect(published.map((m) => [m.id, m.type, m.key, m.payload])).toEqual([
      [first, 'orders.order-placed', 'order:d-1', { orderId: 'd-1', totalCents: 1 }],
      [second, 'orders.order-cancelled', 'order:d-1', { orderId: 'd-1', reason: 'changed mind' }],
    ]);
    const received = await collector.waitFor(2);
    expect(received.map((m) => m.properties.messageId)).toEqual([first, second]);
    expect(await drainOutbox({ database: pool, amqp: testAmqpUrl(), schema })).toEqual([]);
  });
});

describe('deliver runs a handler through the real dedup and transaction path, without a broker', () => {
  const failOn = new Set<string>();
  const consumer = createConsumer({
    group: uniqueName('kit_group'),
    database: pool,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    handlers: [
      defineHandler(PaymentRequested, async (payload, ctx) => {
        await ctx.client.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [
          ctx.envelope.id,
          payload.orderId,
        ]);
        if (failOn.has(payload.orderId)) throw new Error(`payment ${payload.orderId} failed`);
      }),
    ],
  });
  afterAll(() => consumer.stop());

  it('the first delivery is processed, a redelivery of the same id is a duplicate, and the effect exists once', async () => {
    const message = PaymentRequested.create({ orderId: 'p-1', amountCents: 10 });
    const { id, outcome } = await deliver(consumer, message);
    expect(outcome).toBe('processed');
    expect(await deliver(consumer, message, { id })).toEqual({ id, outcome: 'duplicate' });
    expect((await effectCounts(pool, effects)).get(id)).toBe(1);
  });

  it('a failing handler rejects deliver with its error and its writes (and inbox record) roll back', async () => {
    failOn.add('p-2');
    const message = PaymentRequested.create({ orderId: 'p-2', amountCents: 10 });
    const id = '0190f7d2-0000-7000-8000-000000000002';
    await expect(deliver(consumer, message, { id })).rejects.toThrow('payment p-2 failed');
    expect((await effectCounts(pool, effects)).get(id)).toBeUndefined();
    failOn.delete('p-2');
    // Not recorded as handled: the retry runs the handler.
    expect(await deliver(consumer, message, { id, attempt: 2 })).toEqual({ id, outcome: 'processed' });
    expect((await effectCounts(pool, effects)).get(id)).toBe(1);
  });

  it('with an ORM session the handler gets the ORM’s transaction as ctx.tx (Knex here), with the inbox record in it', async () => {
    const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
    try {
      let sawTransaction = false;
      const ormConsumer = createConsumer({
        group: uniqueName('kit_knex'),
        database: pool,
        amqp: testAmqpUrl(),
        schema,
        exchange,
        session: knexSession(knex),
        handlers: [
          handlersFor(knexSession(knex))(PaymentRequested, async (payload, ctx) => {
            sawTransaction = ctx.tx.isTransaction === true;
            await ctx.tx
              .withSchema(schema)
              .insert({ message_id: ctx.envelope.id, info: payload.orderId })
              .into('effects');
          }),
        ],
      });
      const { id } = await deliver(ormConsumer, PaymentRequested.create({ orderId: 'k-1', amountCents: 10 }));
      expect(sawTransaction).toBe(true);
      expect(await deliver(ormConsumer, PaymentRequested.create({ orderId: 'k-1', amountCents: 10 }), { id })).toEqual({
        id,
        outcome: 'duplicate',
      });
      expect((await effectCounts(pool, effects)).get(id)).toBe(1);
      await ormConsumer.stop();
    } finally {
      await knex.destroy();
    }
  });

  it('a payload the contract rejects is refused as the consumer would, without running the handler', async () => {
    const bad = {
      ...PaymentRequested.create({ orderId: 'p-3', amountCents: 10 }),
      payload: { orderId: 'p-3', amountCents: -1 },
    };
    await expect(deliver(consumer, bad)).rejects.toMatchObject({ code: 'PAYLOAD_INVALID' });
  });
});

describe('assertOutboxWrites: this transaction wrote exactly these messages', () => {
  it('passes for exactly the messages of this transaction, ignoring other transactions’ writes', async () => {
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await outbox.add(other, OrderPlaced.create({ orderId: 'someone-else', totalCents: 9 }));
      await inTransaction(pool, (c) =>
        outbox.add(c, OrderPlaced.create({ orderId: 'committed-before', totalCents: 9 })),
      );
      await inTransaction(pool, async (c) => {
        await outbox.add(c, OrderPlaced.create({ orderId: 'mine', totalCents: 5 }, { key: 'order:mine' }));
        await c.query('SAVEPOINT s');
        await outbox.add(c, OrderCancelled.create({ orderId: 'mine', reason: 'in a savepoint' }));
        await c.query('RELEASE SAVEPOINT s');
        await assertOutboxWrites(
          c,
          [
            OrderPlaced.create({ orderId: 'mine', totalCents: 5 }, { key: 'order:mine' }),
            { type: 'orders.order-cancelled' },
          ],
          { schema },
        );
        expect((await outboxWrites(c, { schema })).map((w) => w.payload)).toEqual([
          { orderId: 'mine', totalCents: 5 },
          { orderId: 'mine', reason: 'in a savepoint' },
        ]);
      });
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
  });

  it('fails with an AssertionError when the transaction wrote more, less or other messages', async () => {
    await inTransaction(pool, async (c) => {
      await outbox.add(c, OrderPlaced.create({ orderId: 'x', totalCents: 1 }));
      await expect(assertOutboxWrites(c, [], { schema })).rejects.toBeInstanceOf(AssertionError);
      await expect(
        assertOutboxWrites(c, [OrderPlaced.create({ orderId: 'x', totalCents: 2 })], { schema }),
      ).rejects.toBeInstanceOf(AssertionError);
      await expect(
        assertOutboxWrites(c, [OrderPlaced.create({ orderId: 'x', totalCents: 1 }), { type: 'orders.order-placed' }], {
          schema,
        }),
      ).rejects.toBeInstanceOf(AssertionError);
    });
  });
});
