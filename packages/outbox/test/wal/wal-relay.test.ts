import { createOutbox, migrateOutbox, WalSlotInUseError, WalSlotMissingError, dropWalSlot } from '@txbox/outbox';
import { describe, expect, it } from 'vitest';
import { uniqueName, useAmqp, useCleanup, useTestSchema, waitUntil } from '../../../../test-support/index.js';
import { arrivalsOf, CrashEvent, perKeyOrderViolation, type WrittenMessage, writeCommitted } from '../crash/crash-support.js';
import { inTransaction, OrderPlaced } from '../fixtures.js';
import { useWalSlot, walRelay } from './wal-support.js';

const { schema, pool, databaseUrl } = useTestSchema('wal_relay');
const wal = useWalSlot(databaseUrl, pool);
const broker = useAmqp();
const cleanup = useCleanup();
const exchange = uniqueName('wal_events');
const outbox = createOutbox({ contracts: [OrderPlaced, CrashEvent], schema, exchange, mode: 'wal' });

async function startedRelay(options: Parameters<typeof walRelay>[0] extends infer O ? Partial<O> : never = {}) {
  const relay = walRelay({ database: databaseUrl, schema, slot: wal.slot, ...options });
  cleanup.defer(() => relay.stop());
  await relay.start();
  await waitUntil('the relay to stream the slot', async () => relay.isStreaming, { timeoutMs: 20_000 });
  return relay;
}

describe('WAL mode', () => {
  it('refuses to start without its slot, naming the slot and how to create it', async () => {
    await migrateOutbox({ database: databaseUrl, schema });
    const relay = walRelay({ database: databaseUrl, schema, slot: uniqueName('wal_missing') });
    await expect(relay.start()).rejects.toBeInstanceOf(WalSlotMissingError);
    await expect(relay.start()).rejects.toThrow(/createWalSlot|wal-slot create/);
    await relay.stop();
    await wal.create();
  });

  it('a committed transaction’s messages are published with the documented properties; a rolled-back one’s never', async () => {
    const collector = await broker.bindCollector(exchange, '#');
    await startedRelay();
    const client = await pool.connect();
    await client.query('BEGIN');
    await outbox.add(client, OrderPlaced.create({ orderId: 'rolled-back', totalCents: 1 }, { key: 'order:rb' }));
    await client.query('ROLLBACK');
    client.release();
    const id = await inTransaction(pool, (c) =>
      outbox.add(
        c,
        OrderPlaced.create(
          { orderId: 'o-1', totalCents: 1250 },
          { key: 'order:o-1', correlationId: 'corr-1', causationId: 'cause-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1', headers: { tenant: 'acme' } },
        ),
      ),
    );
    const [placed] = await collector.waitFor(1);
    expect(JSON.parse(placed?.content.toString() ?? '')).toEqual({ orderId: 'o-1', totalCents: 1250 });
    expect(placed?.fields.routingKey).toBe('orders.order-placed');
    expect(placed?.properties).toMatchObject({ messageId: id, type: 'orders.order-placed', correlationId: 'corr-1', deliveryMode: 2 });
    expect(placed?.properties.headers).toMatchObject({
      'x-txbox-version': 1,
      'x-txbox-key': 'order:o-1',
      'x-txbox-causation-id': 'cause-1',
      tracestate: 'vendor=1',
      tenant: 'acme',
    });
    expect(await collector.flush()).toHaveLength(1);
    // Nothing was written to the table on the way.
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
    expect(rows[0].n).toBe(0);
  });

  // Commit order is the order of the commit records in the WAL; each lane owns its keys, so the
  // order in which its COMMITs return is that order (two writers racing on one key could see
  // their acknowledgements in either order).
  it('messages of one key arrive in commit order, across concurrent writers', async () => {
    const collector = await broker.bindCollector(exchange, 'crash.event');
    await startedRelay();
    const committed: WrittenMessage[] = [];
    await Promise.all(
      [0, 1, 2].map((lane) =>
        writeCommitted(
          pool,
          outbox,
          Array.from({ length: 60 }, (_, i) => ({ n: lane * 100 + i, key: i % 5 === 4 ? null : `lane${lane}-${i % 3}` })),
          3,
          committed,
        ),
      ),
    );
    await collector.waitFor(committed.length, 30_000);
    expect(perKeyOrderViolation(committed, arrivalsOf(collector.messages))).toBeNull();
  });

  it('a retrying message holds back only its own key; the others stream on, and it then arrives before the rest of its key', async () => {
    // An exchange of its own: the collectors of the other tests bind '#'.
    const ownExchange = uniqueName('wal_retry');
    const writer = createOutbox({ contracts: [CrashEvent], schema, exchange: ownExchange, mode: 'wal' });
    const collector = await broker.bindCollector(ownExchange, 'ok.#');
    const relay = await startedRelay({ retry: { maxAttempts: 100, baseDelayMs: 100, maxDelayMs: 200 } });
    const write = (key: string, n: number, routingKey: string) =>
      inTransaction(pool, (c) => writer.add(c, CrashEvent.create({ n, key, pad: '' }, { key, routingKey })));
    // No queue is bound for 'held.a' yet: unroutable, retried (onUnroutable 'retry').
    const held = await write('a', 1, 'held.a');
    // Parked before the next message of its key is read (one batch would publish both at once:
    // what the broker confirmed in the same batch is out already, as in table mode).
    await waitUntil('the failed message to be parked', async () => (await relay.stats()).pending === 1, {
      timeoutMs: 20_000,
    });
    const behind = await write('a', 2, 'ok.a');
    const others = [];
    for (let n = 1; n <= 5; n += 1) others.push(await write('b', n, 'ok.b'));
    await collector.waitFor(5, 20_000);
    expect(collector.messages.map((m) => m.properties.messageId)).toEqual(others);
    const parked = await relay.stats();
    expect(parked.pending).toBe(2);

    await broker.channel.bindQueue(collector.queue, ownExchange, 'held.#');
    await collector.waitFor(7, 20_000);
    const ids = collector.messages.map((m) => m.properties.messageId);
    expect(ids.indexOf(held)).toBeLessThan(ids.indexOf(behind));
    await waitUntil('the parked messages to be published', async () => (await relay.stats()).pending === 0, {
      timeoutMs: 20_000,
    });
    const later = await write('a', 3, 'ok.a');
    await collector.waitFor(8, 20_000);
    expect(collector.messages.at(-1)?.properties.messageId).toBe(later);
  });

  it('an idle relay confirms the slot past other tables’ commits, so the slot does not hold their WAL', async () => {
    await startedRelay();
    await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}".unrelated (n int)`);
    const { rows } = await pool.query(`INSERT INTO "${schema}".unrelated VALUES (1) RETURNING pg_current_wal_insert_lsn()::text AS lsn`);
    const after = rows[0].lsn as string;
    await waitUntil(
      'the slot to be confirmed past the unrelated commit',
      async () => {
        const { rows: slot } = await pool.query(
          'SELECT confirmed_flush_lsn >= $2::pg_lsn AS past FROM pg_replication_slots WHERE slot_name = $1',
          [wal.slot, after],
        );
        return slot[0]?.past === true;
      },
      { timeoutMs: 20_000 },
    );
  });

  it('stats() gives the slot’s lag; a second relay stands by and takes over when the first stops', async () => {
    const first = await startedRelay();
    const second = walRelay({ database: databaseUrl, schema, slot: wal.slot });
    cleanup.defer(() => second.stop());
    await second.start();
    const stats = await first.stats();
    expect(stats.slot).toMatchObject({ name: wal.slot, active: true, streaming: true });
    expect(stats.slot.lagBytes).toBeGreaterThanOrEqual(0);
    expect(stats.slot.lagSeconds).toBeGreaterThanOrEqual(0);
    expect((await second.stats()).slot).toMatchObject({ streaming: false, lagSeconds: null });
    await expect(dropWalSlot({ database: databaseUrl, slot: wal.slot })).rejects.toBeInstanceOf(WalSlotInUseError);

    const collector = await broker.bindCollector(exchange, 'orders.#');
    await first.stop();
    await waitUntil('the standby to take over', async () => second.isStreaming, { timeoutMs: 20_000 });
    const id = await inTransaction(pool, (c) => outbox.add(c, OrderPlaced.create({ orderId: 'after', totalCents: 2 })));
    const [only] = await collector.waitFor(1, 20_000);
    expect(only?.properties.messageId).toBe(id);
  });
});
