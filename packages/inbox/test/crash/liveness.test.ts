import { consoleLogger } from '@txbox/core';
import { defineHandler, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
  withDeadline,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import { createEffectsTable, effectCounts, PaymentRequested, publishEnvelope, useConsumers } from '../fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_liveness');
const amqp = useAmqp();
const exchange = uniqueName('liveness_events');
let effects: string;
const createLiveConsumer = useConsumers(amqp, () => ({
  group: 'live',
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  logger: process.env.DEBUG_TXBOX ? consoleLogger({ verbose: true }) : undefined,
  handlers: [
    defineHandler(PaymentRequested, async (_payload, ctx) => {
      await ctx.client.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [ctx.envelope.id, ctx.group]);
    }),
  ],
}));
const consumer = (amqpUrl: string) => createLiveConsumer({ amqp: amqpUrl });

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
});

describe('the consumer stays alive', () => {
  it('when the broker cancels it (queue deleted), it re-declares its queue and resumes consuming', async () => {
    const c = consumer(testAmqpUrl());
    await c.start();
    await amqp.channel.deleteQueue(c.topology.queue);
    // The consumer re-declares the queue and its bindings on its own.
    await waitUntil(
      'the queue to be re-declared and consumed',
      async () => {
        // checkQueue on a missing queue closes the channel it runs on: use a throwaway one.
        const probe = await amqp.connection.createChannel();
        probe.on('error', () => {});
        try {
          return (await probe.checkQueue(c.topology.queue)).consumerCount === 1;
        } catch {
          return false;
        } finally {
          await probe.close().catch(() => {});
        }
      },
      { timeoutMs: 30_000 },
    );
    const id = publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'after-cancel', amountCents: 1 },
    });
    await waitUntil('the message to be applied', async () => (await effectCounts(pool, effects)).get(id) === 1, {
      timeoutMs: 30_000,
    });
    expect((await c.stats()).connected).toBe(true);
  });

  it('stop() returns even when the broker stopped answering', async () => {
    const url = new URL(testAmqpUrl());
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5672));
    try {
      const c = consumer(proxy.url(testAmqpUrl()));
      await c.start();
      proxy.stall();
      // Without bounded shutdown steps this waits for missed heartbeats (tens of seconds).
      const outcome = await withDeadline(
        c.stop().then(() => 'stopped'),
        15_000,
        'stop() with the broker stalled',
      );
      expect(outcome).toBe('stopped');
    } finally {
      proxy.resume();
      await proxy.close();
    }
  });

  it('starts while the broker is unreachable, then consumes once it is back', async () => {
    const url = new URL(testAmqpUrl());
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5672));
    try {
      proxy.down();
      const c = consumer(proxy.url(testAmqpUrl()));
      await c.start(); // does not hold up the application's startup
      expect((await c.stats()).connected).toBe(false);
      proxy.restore();
      await waitUntil('the consumer to connect', async () => (await c.stats()).connected, { timeoutMs: 30_000 });
      const id = publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'after-outage', amountCents: 1 },
      });
      // Every consumer of this file is bound to the type: count this group's effect only.
      const applied = async () =>
        (
          await pool.query(`SELECT count(*)::int AS n FROM ${effects} WHERE message_id = $1 AND info = $2`, [
            id,
            c.group,
          ])
        ).rows[0].n;
      await waitUntil('the message to be applied', async () => (await applied()) === 1, { timeoutMs: 30_000 });
    } finally {
      await proxy.close();
    }
  });
});
