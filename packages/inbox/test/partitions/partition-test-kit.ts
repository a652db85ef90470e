// What the partitioned-consumption test files share: their schema with the `applied` table, the
// broker, publishing keyed steps, and the one check of the guarantee (every step applied once,
// each after the step before it of its key had committed).
import { migrateInbox } from '@txbox/inbox';
import { beforeAll, expect } from 'vitest';
import { sleep, useAmqp, useCleanup, useTestSchema, waitUntil } from '../../../../test-support/index.js';
import { publishEnvelope } from '../fixtures.js';
import { appliedTable, createAppliedTable, KeyedStep } from './partition-support.mjs';

interface AppliedRow {
  key: string;
  seq: number;
  prev_seq: number;
  instance: string;
}

/** Call at the top level of a test file: a migrated schema with the applied table, the broker, a cleanup stack. */
export function usePartitionTests(prefix: string) {
  const db = useTestSchema(prefix);
  const broker = useAmqp();
  const cleanup = useCleanup();
  beforeAll(async () => {
    await migrateInbox({ database: db.databaseUrl, schema: db.schema });
    await createAppliedTable(db.pool, db.schema);
  });

  /** Publishes steps `from`…`from + perKey - 1` of each key, round-robin, pausing `pauseMs` between rounds. */
  async function publishSteps(exchange: string, keys: string[], perKey: number, { from = 1, pauseMs = 0 } = {}) {
    for (let seq = from; seq < from + perKey; seq++) {
      for (const key of keys)
        publishEnvelope(broker.channel, exchange, { type: KeyedStep.type, key, payload: { key, seq } });
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  async function applied(keys: string[]): Promise<AppliedRow[]> {
    const { rows } = await db.pool.query<AppliedRow>(
      `SELECT key, seq, prev_seq, instance FROM ${appliedTable(db.schema)} WHERE key = ANY($1)`,
      [keys],
    );
    return rows;
  }

  async function waitApplied(keys: string[], count: number): Promise<void> {
    await waitUntil(`${count} steps applied`, async () => (await applied(keys)).length >= count, {
      timeoutMs: 90_000,
      intervalMs: 100,
    });
  }

  /** Every step of `perKey` per key applied once, each after the step before it of its key had committed. */
  async function expectOrderedOnce(keys: string[], perKey: number): Promise<AppliedRow[]> {
    await sleep(300); // a late duplicate application would land now
    const rows = await applied(keys);
    expect(rows).toHaveLength(keys.length * perKey);
    expect(new Set(rows.map((r) => `${r.key}#${r.seq}`)).size).toBe(keys.length * perKey);
    expect(rows.filter((r) => r.prev_seq !== r.seq - 1)).toEqual([]);
    return rows;
  }

  return { db, broker, cleanup, publishSteps, applied, waitApplied, expectOrderedOnce };
}
