import { createOutbox, dropWalSlot, migrateOutbox, WalSlotInUseError, WalSlotMissingError } from '@txbox/outbox';
import { describe, expect, it } from 'vitest';
import { uniqueName, useAmqp, useCleanup, useTestSchema, waitUntil } from '../../../../test-support/index.js';
import { CrashEvent } from '../crash/crash-support.js';
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

  it('an idle relay confirms the slot past other tables’ commits, so the slot does not hold their WAL', async () => {
    await startedRelay();
    await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}".unrelated (n int)`);
    const { rows } = await pool.query(
      `INSERT INTO "${schema}".unrelated VALUES (1) RETURNING pg_current_wal_insert_lsn()::text AS lsn`,
    );
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
