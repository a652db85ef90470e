/**
 * WAL-mode test helpers: a replication slot of the file's own (unique name, dropped after the
 * file even when a test fails: an abandoned slot holds WAL on the shared disk), and relays on it.
 */
import { createWalRelay, createWalSlot, dropWalSlot, type WalRelay, type WalRelayOptions } from '@txbox/outbox';
import type pg from 'pg';
import { afterAll } from 'vitest';
import { testAmqpUrl, uniqueName, waitUntil } from '../../../../test-support/index.js';

export interface WalSlot {
  readonly slot: string;
  /** Creates the slot (call after the schema is migrated; the slot sees what commits after it). */
  create(): Promise<void>;
}

/**
 * A unique slot name for this file, dropped in `afterAll` (registered before the schema's, so it
 * runs after the relays the tests stopped). Waits for the slot to be free before dropping it.
 */
export function useWalSlot(databaseUrl: string, pool: pg.Pool): WalSlot {
  const slot = uniqueName('wal_slot');
  afterAll(async () => {
    await waitUntil(
      `slot ${slot} to be released`,
      async () => {
        const { rows } = await pool.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
        return rows.length === 0 || rows[0].active === false;
      },
      { timeoutMs: 20_000 },
    ).catch(() => {});
    await dropWalSlot({ database: databaseUrl, slot });
  });
  return {
    slot,
    async create() {
      await createWalSlot({ database: databaseUrl, slot });
    },
  };
}

/** A WAL relay with test-friendly timings on the file's slot. */
export function walRelay(
  options: Partial<WalRelayOptions> & { database: string | pg.Pool; schema: string; slot: string },
): WalRelay {
  return createWalRelay({
    amqp: testAmqpUrl(),
    relayId: uniqueName('wal_relay'),
    pollIntervalMs: 100,
    standbyRetryMs: 200,
    publishTimeoutMs: 2000,
    leaseMs: 5000,
    retention: { intervalMs: 0 },
    ...options,
  });
}
