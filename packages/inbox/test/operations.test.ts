import diagnosticsChannel from 'node:diagnostics_channel';
import { defineHandler, INBOX_CHANNELS, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { PaymentRequested, publishEnvelope, useConsumers } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_ops');
const amqp = useAmqp();
const exchange = uniqueName('ops_events');
const consumer = useConsumers(amqp, () => ({
  group: 'ops',
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  handlers: [defineHandler(PaymentRequested, async () => {})],
}));

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
});

describe('operations', () => {
  it('a quorum queue group consumes like a classic one', async () => {
    const c = consumer({ queueType: 'quorum', deliveryLimit: 5 });
    await c.start();
    publishEnvelope(amqp.channel, exchange, { type: PaymentRequested.type, payload: { orderId: 'q', amountCents: 1 } });
    await waitUntil('the message to be processed', async () => (await c.stats()).processed === 1);
    const probe = await amqp.connection.createChannel();
    try {
      // Re-declaring with the same arguments succeeds only if the queue is the quorum queue we asked for.
      await probe.assertQueue(c.topology.queue, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': c.topology.deadLetterQueue,
          'x-delivery-limit': 5,
        },
      });
    } finally {
      await probe.close().catch(() => {});
    }
  });

  it('retention deletes records older than the window, in batches, and stats show the window kept', async () => {
    const c = consumer({ retention: { processedMs: 60_000, batchSize: 2, intervalMs: 0 } });
    await c.start();
    await pool.query(
      `INSERT INTO "${schema}".inbox (consumer_group, message_id, type, version, received_at, processed_at)
       SELECT $1, 'old-' || g, 't', 1, now() - interval '2 hours', now() - interval '2 hours' FROM generate_series(1, 5) g`,
      [c.group],
    );
    await pool.query(
      `INSERT INTO "${schema}".inbox (consumer_group, message_id, type, version, received_at) VALUES ($1, 'fresh', 't', 1, now())`,
      [c.group],
    );
    const before = await c.stats();
    expect(before.records).toBe(6);
    expect(before.oldestRecordAgeMs).toBeGreaterThan(3_600_000);
    expect(await c.cleanup()).toEqual({ deleted: 5 });
    const after = await c.stats();
    expect(after).toMatchObject({ records: 1, retentionMs: 60_000 });
    expect(after.oldestRecordAgeMs).toBeLessThan(60_000);
  });

  it('publishes processed and duplicate events on node:diagnostics_channel', async () => {
    const events: { channel: string; event: { group: string; id?: string; durationMs?: number } }[] = [];
    const subscribers = [INBOX_CHANNELS.processed, INBOX_CHANNELS.duplicate].map((channel) => {
      const fn = (event: unknown) => events.push({ channel, event: event as never });
      diagnosticsChannel.subscribe(channel, fn);
      return () => diagnosticsChannel.unsubscribe(channel, fn);
    });
    try {
      const c = consumer();
      await c.start();
      const id = publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'd', amountCents: 1 },
      });
      publishEnvelope(amqp.channel, exchange, {
        id,
        type: PaymentRequested.type,
        payload: { orderId: 'd', amountCents: 1 },
      });
      await waitUntil(
        'the processed and duplicate events',
        () => events.filter((e) => e.event.group === c.group).length === 2,
      );
      const mine = events.filter((e) => e.event.group === c.group);
      expect(mine.map((e) => e.channel).sort()).toEqual([INBOX_CHANNELS.duplicate, INBOX_CHANNELS.processed].sort());
      expect(mine.every((e) => e.event.id === id)).toBe(true);
      expect(mine.find((e) => e.channel === INBOX_CHANNELS.processed)?.event.durationMs).toBeGreaterThanOrEqual(0);
      const stats = await c.stats();
      expect(stats).toMatchObject({ processed: 1, duplicatesSkipped: 1, inFlight: 0, connected: true });
    } finally {
      for (const unsubscribe of subscribers) unsubscribe();
    }
  });
});
