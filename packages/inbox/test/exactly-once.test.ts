import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { createEffectsTable, effectCounts, PaymentRequested, publishEnvelope } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_once');
const amqp = useAmqp();
const exchange = uniqueName('once_events');
const group = uniqueName('billing');
let consumer: InboxConsumer;
let effects: string;
const calls: string[] = [];

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
  consumer = createConsumer({
    group,
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    concurrency: 4,
    handlers: [
      defineHandler(PaymentRequested, async (payload, ctx) => {
        calls.push(ctx.envelope.id);
        await ctx.client.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [
          ctx.envelope.id,
          payload.orderId,
        ]);
      }),
    ],
  });
  await consumer.start();
});
afterAll(async () => {
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
});

describe('exactly once per (group, message id)', () => {
  it('a message delivered 5 times runs its handler once, and its effect row exists once', async () => {
    const id = publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'o-1', amountCents: 500 },
    });
    for (let i = 0; i < 4; i++) {
      publishEnvelope(amqp.channel, exchange, {
        id,
        type: PaymentRequested.type,
        payload: { orderId: 'o-1', amountCents: 500 },
      });
    }
    await waitUntil('all five deliveries to be settled', async () => {
      const s = await consumer.stats();
      return s.processed + s.duplicatesSkipped >= 5;
    });
    expect(calls.filter((c) => c === id)).toHaveLength(1);
    expect((await effectCounts(pool, effects)).get(id)).toBe(1);
    const stats = await consumer.stats();
    expect(stats).toMatchObject({ processed: 1, duplicatesSkipped: 4 });
    const { rows } = await pool.query(
      `SELECT attempts, type FROM "${schema}".inbox WHERE consumer_group = $1 AND message_id = $2`,
      [group, id],
    );
    expect(rows).toEqual([{ attempts: 1, type: PaymentRequested.type }]);
  });

  it('the declared topology exists: the group queue, the delay queues and the dead-letter queue', async () => {
    const t = consumer.topology;
    expect(t.queue).toBe(group);
    expect(t.deadLetterQueue).toBe(`${group}.dead-letter`);
    expect(t.delayQueues.map((d) => d.delayMs)).toEqual([1000, 2000, 4000, 8000]);
    for (const name of [t.queue, t.deadLetterQueue, ...t.delayQueues.map((d) => d.name)]) {
      await expect(amqp.channel.checkQueue(name)).resolves.toMatchObject({ queue: name });
    }
  });
});
