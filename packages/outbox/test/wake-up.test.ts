import diagnosticsChannel from 'node:diagnostics_channel';
import { createOutbox, createRelay, migrateOutbox, OUTBOX_CHANNELS, type OutboxRelay } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_wake');
const amqp = useAmqp();
const exchange = uniqueName('wake_events');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
let relay: OutboxRelay;
const batches: unknown[] = [];
const onBatch = (event: unknown) => batches.push(event);

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  diagnosticsChannel.subscribe(OUTBOX_CHANNELS.batch, onBatch);
  // Polling alone would take a minute: only NOTIFY can make these tests pass.
  relay = createRelay({ database: databaseUrl, amqp: testAmqpUrl(), schema, pollIntervalMs: 60_000 });
  await relay.start();
});
afterAll(async () => {
  diagnosticsChannel.unsubscribe(OUTBOX_CHANNELS.batch, onBatch);
  await relay?.stop();
});

describe('LISTEN/NOTIFY wake-up', () => {
  it('a commit wakes a relay that would otherwise poll only once a minute', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const id = await inTransaction(pool, (c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'wake-1', totalCents: 1 })),
    );
    const [message] = await collector.waitFor(1, 20_000);
    expect(message?.properties.messageId).toBe(id);
    // The batch event follows the broker's confirm and the marking, so it can trail the delivery.
    await waitUntil('the batch event', () => batches.length > 0, { timeoutMs: 10_000 });
    expect(batches.at(-1)).toMatchObject({ relayId: relay.relayId, claimed: 1, published: 1 });
  });

  it('after its LISTEN connection is terminated, the relay listens again and still wakes on commit', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    const terminated = await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'txbox-outbox-listener' AND query ILIKE $1`,
      [`%LISTEN "${schema}_outbox"%`],
    );
    expect(terminated.rowCount).toBe(1);
    // Wait for the listener to come back (its reconnect wakes the relay once, harmlessly).
    await waitUntil(
      'the LISTEN connection to be re-established',
      async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'txbox-outbox-listener' AND query ILIKE $1`,
          [`%LISTEN "${schema}_outbox"%`],
        );
        return rows[0].n === 1;
      },
      { timeoutMs: 20_000 },
    );
    const id = await inTransaction(pool, (c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'wake-2', totalCents: 1 })),
    );
    const [message] = await collector.waitFor(1, 20_000);
    expect(message?.properties.messageId).toBe(id);
  });
});
