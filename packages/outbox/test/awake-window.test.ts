// The awake window: a relay that just found messages polls every few milliseconds and says so in
// a table, and writers skip the NOTIFY (whose commit serialization every writing transaction
// pays) while it has at least a second left. Latency must not suffer: the relay's poll interval
// here is a minute, so only a NOTIFY or the awake window can publish anything in time.
import { createOutbox, createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_awake');
const amqp = useAmqp();
const exchange = uniqueName('awake_events');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
const AWAKE_MS = 6000;
let relay: OutboxRelay;
let listener: pg.Client;
let notifications = 0;

/** Milliseconds the relay's awake row has left, as PostgreSQL counts them (negative: asleep; null: no row). */
async function awakeLeftMs(): Promise<number | null> {
  const { rows } = await pool.query<{ left_ms: number }>(
    `SELECT extract(epoch FROM awake_until - clock_timestamp()) * 1000 AS left_ms
     FROM "${schema}".outbox_relay_awake WHERE relay_id = $1`,
    [relay.relayId],
  );
  return rows[0] ? Number(rows[0].left_ms) : null;
}

const write = (orderId: string) =>
  inTransaction(pool, (c) => outbox.add(c, OrderPlaced.create({ orderId, totalCents: 1 })));

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  listener.on('notification', () => {
    notifications += 1;
  });
  await listener.query(`LISTEN "${schema}_outbox"`);
  relay = createRelay({
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    pollIntervalMs: 60_000,
    awakeMs: AWAKE_MS,
  });
  await relay.start();
});
afterAll(async () => {
  await relay?.stop();
  await listener?.end();
});

describe('awake window: writers skip the NOTIFY while a relay is awake', () => {
  it('notifies a sleeping relay, skips the NOTIFY while it is awake, and notifies again once it sleeps', async () => {
    const collector = await amqp.bindCollector(exchange, '#');

    // Asleep: the commit notifies, and the NOTIFY wakes the relay.
    const first = await write('awake-1');
    await collector.waitFor(1, 20_000);
    await waitUntil('the first NOTIFY to arrive', () => notifications === 1, { timeoutMs: 10_000 });
    expect(collector.messages[0]?.properties.messageId).toBe(first);

    // Having found a message, the relay is awake (its row says so for a while yet).
    await waitUntil('the relay to mark itself awake', async () => ((await awakeLeftMs()) ?? 0) > AWAKE_MS / 2, {
      timeoutMs: 10_000,
      intervalMs: 5,
    });
    const second = await write('awake-2');
    await collector.waitFor(2, 20_000);
    expect(collector.messages[1]?.properties.messageId).toBe(second);
    // Published by the awake relay's short poll: no NOTIFY was sent for it.
    expect(notifications).toBe(1);

    // The window ends (the relay's last poll lands after it); a commit then notifies again.
    await waitUntil('the awake window to end', async () => ((await awakeLeftMs()) ?? -1) < 0, {
      timeoutMs: AWAKE_MS * 3,
      intervalMs: 100,
    });
    const third = await write('awake-3');
    await collector.waitFor(3, 20_000);
    expect(collector.messages[2]?.properties.messageId).toBe(third);
    await waitUntil('a NOTIFY for the commit after the window', () => notifications === 2, { timeoutMs: 10_000 });
  });

  it('a stopping relay clears its row, so writers notify at once rather than count on its poll', async () => {
    await write('awake-4');
    await waitUntil('the relay to be awake', async () => ((await awakeLeftMs()) ?? 0) > 0, {
      timeoutMs: 20_000,
      intervalMs: 5,
    });
    await relay.stop();
    expect(await awakeLeftMs()).toBeNull();
  });
});
