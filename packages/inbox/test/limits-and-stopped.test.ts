// A consumer-side size limit that matches the writer's, and a consumer that says it is stopped
// (or still answers) instead of surfacing pg's "Cannot use a pool after calling end on the pool".
import { defineMessage } from '@txbox/core';
import { defineHandler, INBOX_HEADERS, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import {
  createEffectsTable,
  drainQueue,
  effectCounts,
  PaymentRequested,
  publishEnvelope,
  queueDepth,
  useConsumers,
} from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_limits');
const amqp = useAmqp();
const exchange = uniqueName('limits_events');
let effects: string;
const consumer = useConsumers(amqp, () => ({
  group: 'limits',
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  handlers: [
    defineHandler(PaymentRequested, async (_payload, ctx) => {
      await ctx.client.query(`INSERT INTO ${effects} (message_id) VALUES ($1)`, [ctx.envelope.id]);
    }),
  ],
}));

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  await migrateOutbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
});

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
  });
});

describe('the writer and the consumer measure the same bytes', () => {
  const Ones = defineMessage({ type: 'limits.ones', version: 1, schema: z.array(z.number()) });
  // PostgreSQL prints the stored jsonb as "[1, 1, …]": 3 bytes per element after the first, not 2.
  const ones = (n: number) => Array.from({ length: n }, () => 1);
  const LIMIT = 1000;

  it('a payload the writer accepts at its limit arrives within the same consumer limit and is applied; one element more is refused by the writer', async () => {
    const outbox = createOutbox({ contracts: [Ones], schema, exchange, maxPayloadBytes: LIMIT });
    const atLimit = ones((LIMIT - 2) / 3 + 1); // "[1" + ", 1" × 332 + "]" = 1000 bytes
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBeLessThan(LIMIT); // compact: 667 bytes
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(outbox.add(client, Ones.create(ones(atLimit.length + 1)))).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
      await outbox.add(client, Ones.create(atLimit));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const applied: number[] = [];
    const c = consumer({
      maxMessageBytes: LIMIT,
      handlers: [defineHandler(Ones, async (payload) => void applied.push(payload.length))],
    });
    await c.start();
    const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false });
    try {
      await waitUntil('published', async () => (await relay.runOnce()).published === 1);
    } finally {
      await relay.stop();
    }
    await waitUntil('applied', async () => (await c.stats()).processed === 1);
    expect(applied).toEqual([atLimit.length]);
    expect(await queueDepth(amqp.channel, c.topology.deadLetterQueue)).toBe(0);
    await c.stop();
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
