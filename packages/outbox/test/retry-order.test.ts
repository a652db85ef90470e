// Per-key order across a retry: a message being retried goes out alone for its key, so if it
// fails again nothing newer of its key has been published meanwhile. Driven step by step with
// runOnce: the first message of key K is unroutable (no queue bound for its routing key) and
// retried; a later message of K is written meanwhile and must wait until the first one settles
// (here: dead-lettered once its attempts are spent).
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_retry_order');
const amqp = useAmqp();
const exchange = uniqueName('retry_order_x');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
const relay = createRelay({
  database: pool,
  amqp: testAmqpUrl(),
  schema,
  listen: false,
  onUnroutable: 'retry',
  retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 50 },
});

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});
afterAll(async () => {
  await relay.stop();
});

const write = (orderId: string, routingKey: string) =>
  inTransaction(pool, (c) =>
    outbox.add(c, OrderPlaced.create({ orderId, totalCents: 1 }, { key: 'customer-7', routingKey })),
  );

/** Until the oldest waiting message of the key is due again (its retry delay has passed). */
const allDue = () =>
  waitUntil(
    'the retry to be due',
    async () => {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM "${schema}".outbox WHERE available_at > now() OR lease_expires_at > now()`,
      );
      return rows[0].n === 0;
    },
    { timeoutMs: 10_000, intervalMs: 10 },
  );

describe('a retried message holds back the later messages of its key until it settles', () => {
  it('retries go out alone for their key; the later message is published only after the first is settled', async () => {
    const collector = await amqp.bindCollector(exchange, 'bound.#');
    const first = await write('first', 'unbound.order');
    expect(await relay.runOnce()).toMatchObject({ claimed: 1, unroutable: 1, retried: 1 });

    const later = await write('later', 'bound.order');
    await allDue();
    // The retry goes out alone: the later message of its key is not claimed with it.
    expect(await relay.runOnce()).toMatchObject({ claimed: 1, unroutable: 1, retried: 1 });
    expect((await collector.flush()).map((m) => m.properties.messageId)).not.toContain(later);

    await allDue();
    // Third attempt of three: dead-lettered. The key is free again.
    expect(await relay.runOnce()).toMatchObject({ claimed: 1, deadLettered: 1 });
    const [dead] = await relay.deadLetters.list();
    expect(dead?.id).toBe(first);

    expect(await relay.runOnce()).toMatchObject({ claimed: 1, published: 1 });
    const arrived = await collector.waitFor(1, 10_000);
    expect(arrived.map((m) => m.properties.messageId)).toEqual([later]);
  });
});
