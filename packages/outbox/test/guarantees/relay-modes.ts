/**
 * The relay modes the outbox guarantee tests run in (`describe.each(RELAY_MODES)`): the same test
 * against a table-mode writer and relay, and against a WAL-mode writer and WalRelay on a slot of
 * the file's own (dropped after it).
 */
import type { AnyMessageContract } from '@txbox/core';
import { createOutbox, createRelay, migrateOutbox, type OutboxWriter } from '@txbox/outbox';
import { beforeAll } from 'vitest';
import { type TestSchema, testAmqpUrl, uniqueName, useCleanup, waitUntil } from '../../../../test-support/index.js';
import { useWalSlot, walRelay } from '../wal/wal-support.js';

export type RelayMode = 'table' | 'wal';
export const RELAY_MODES: readonly RelayMode[] = ['table', 'wal'];

export interface RelayOverrides {
  amqp?: string;
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

export interface ModeHarness {
  readonly mode: RelayMode;
  writer(exchange: string, contracts: AnyMessageContract[]): OutboxWriter;
  /** A started relay of this mode (stopped after the test), publishing once start() resolves. */
  startRelay(overrides?: RelayOverrides): Promise<{ stop(): Promise<void>; stats(): Promise<{ pending: number }> }>;
  /** The replication slot (WAL mode), dropped after the file. */
  readonly slot: string | undefined;
}

/** Call at the top of a `describe` of the mode: migrates the schema (and creates the slot) first. */
export function useRelayMode(mode: RelayMode, db: TestSchema): ModeHarness {
  const wal = mode === 'wal' ? useWalSlot(db.databaseUrl, db.pool) : undefined;
  const cleanup = useCleanup();
  beforeAll(async () => {
    await migrateOutbox({ database: db.databaseUrl, schema: db.schema });
    await wal?.create();
  });
  return {
    mode,
    slot: wal?.slot,
    writer: (exchange, contracts) => createOutbox({ contracts, schema: db.schema, exchange, mode }),
    async startRelay(overrides = {}) {
      const common = { database: db.databaseUrl, schema: db.schema, ...overrides };
      if (wal) {
        const relay = walRelay({ ...common, slot: wal.slot });
        cleanup.defer(() => relay.stop());
        await relay.start();
        await waitUntil('the WAL relay to stream its slot', async () => relay.isStreaming, { timeoutMs: 20_000 });
        return relay;
      }
      const relay = createRelay({
        amqp: testAmqpUrl(),
        relayId: uniqueName('table_relay'),
        pollIntervalMs: 100,
        publishTimeoutMs: 2000,
        leaseMs: 5000,
        retention: { intervalMs: 0 },
        ...common,
      });
      cleanup.defer(() => relay.stop());
      await relay.start();
      return relay;
    },
  };
}
