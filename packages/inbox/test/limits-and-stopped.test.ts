// A consumer-side size limit that matches the writer's, and a consumer that says it is stopped
// (or still answers) instead of surfacing pg's "Cannot use a pool after calling end on the pool".
import { createConsumer, defineHandler, INBOX_HEADERS, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import {
  createEffectsTable,
  drainQueue,
  effectCounts,
  PaymentRequested,
  publishEnvelope,
  queueDepth,
} from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_limits');
const amqp = useAmqp();
const exchange = uniqueName('limits_events');
const consumers: InboxConsumer[] = [];
let effects: string;

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
});
afterAll(async () => {
  for (const c of consumers) {
    await c.stop();
    await deleteTopology(amqp.channel, c.topology);
  }
});

function consumer(options: Partial<Parameters<typeof createConsumer>[0]> = {}) {
  const c = createConsumer({
    group: uniqueName('limits'),
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    handlers: [
      defineHandler(PaymentRequested, async (_payload, ctx) => {
        await ctx.client.query(`INSERT INTO ${effects} (message_id) VALUES ($1)`, [ctx.envelope.id]);
      }),
    ],
    ...options,
  });
  consumers.push(c);
  return c;
}

describe('maxMessageBytes', () => {
  it('dead-letters a body over the limit once, as malformed, without running its handler; a body within it is applied', async () => {
    const c = consumer({ maxMessageBytes: 200 });
    await c.start();
    const small = publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'small', amountCents: 1 },
    });
    const large = publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'x'.repeat(300), amountCents: 1 },
    });
    await waitUntil('one dead letter', async () => (await queueDepth(amqp.channel, c.topology.deadLetterQueue)) === 1);
    await waitUntil('processed', async () => (await c.stats()).processed === 1);
    const counts = await effectCounts(pool, effects);
    expect(counts.get(small)).toBe(1);
    expect(counts.has(large)).toBe(false);
    const [dead, ...more] = await drainQueue(amqp.channel, c.topology.deadLetterQueue);
    expect(more).toHaveLength(0);
    expect(dead?.properties.messageId).toBe(large);
    expect(dead?.properties.headers?.[INBOX_HEADERS.reason]).toBe('malformed');
    expect(dead?.properties.headers?.[INBOX_HEADERS.error]).toMatch(
      /body is \d+ bytes, over the consumer's maxMessageBytes of 200/,
    );
    expect(await c.stats()).toMatchObject({ processed: 1, deadLettered: 1, retried: 0 });
    await c.stop(); // the next tests publish the same type on the same exchange
  });

  it('refuses a limit RabbitMQ could never deliver', () => {
    expect(() => consumer({ maxMessageBytes: 512 * 1024 * 1024 })).toThrow(/maxMessageBytes/);
    consumers.pop();
  });
});

describe('after stop()', () => {
  it('with a pool it created from a URL: stats() answers from the counters, the other methods say the consumer is stopped', async () => {
    const c = consumer();
    await c.start();
    const id = publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'stopped-1', amountCents: 1 },
    });
    await waitUntil('processed', async () => (await c.stats()).processed === 1);
    expect((await c.stats()).records).toBe(1);
    await c.stop();

    const stats = await c.stats();
    expect(stats).toMatchObject({
      processed: 1,
      records: null,
      oldestRecordAgeMs: null,
      connected: false,
      inFlight: 0,
    });
    await expect(c.cleanup()).rejects.toMatchObject({
      code: 'STOPPED',
      message: expect.stringContaining('was stopped'),
    });
    expect(() => c.handle(PaymentRequested, async () => {})).toThrow(expect.objectContaining({ code: 'STOPPED' }));
    await expect(c.start()).rejects.toMatchObject({ code: 'STOPPED' });
    await c.stop(); // idempotent
    expect(c.topology.queue).toContain('limits');
    expect((await effectCounts(pool, effects)).get(id)).toBe(1);
  });

  it('with a pool the caller passed: stats() and cleanup() keep working on it', async () => {
    const c = consumer({ database: pool });
    await c.start();
    publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'borrowed', amountCents: 1 },
    });
    await waitUntil('processed', async () => (await c.stats()).processed === 1);
    await c.stop();
    expect(await c.stats()).toMatchObject({ processed: 1, records: 1 });
    expect(await c.cleanup()).toEqual({ deleted: 0 });
  });
});
