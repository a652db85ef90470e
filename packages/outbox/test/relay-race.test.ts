import { defineMessage } from '@txbox/core';
import { createOutbox, createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { inTransaction, outboxRowCount } from './fixtures.js';

const Step = defineMessage({
  type: 'race.step',
  version: 1,
  schema: z.object({ key: z.string(), n: z.number().int() }),
});

const { schema, pool, databaseUrl } = useTestSchema('outbox_race');
const amqp = useAmqp();
const exchange = uniqueName('race_events');
const outbox = createOutbox({ contracts: [Step], schema, exchange });
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
});

const MESSAGES = 2000;
const KEYS = 50;
const WRITERS = 8;

describe('relays racing over one outbox', () => {
  it('three relays publish every message once, and each key in commit order', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    for (let i = 0; i < 3; i++) {
      const relay = createRelay({
        database: databaseUrl,
        amqp: testAmqpUrl(),
        schema,
        relayId: `race-relay-${i}`,
        batchSize: 40,
        pollIntervalMs: 100,
      });
      relays.push(relay);
    }
    await Promise.all(relays.map((r) => r.start()));

    // Ground truth for "commit order", independent of the outbox: each message bumps a
    // per-key counter row in the same transaction. The row lock serializes transactions of
    // a key exactly as their commits do, so counter values per key follow commit order.
    // (Observing commit order from the client is not reliable: PostgreSQL releases a
    // transaction's locks before its COMMIT reply reaches the client.)
    await pool.query(`CREATE TABLE "${schema}".key_counter (key text PRIMARY KEY, n int NOT NULL)`);
    let next = 0;
    const writer = async () => {
      while (next < MESSAGES) {
        const size = Math.min(1 + Math.floor(Math.random() * 3), MESSAGES - next);
        next += size;
        // Sorted by key so concurrent transactions take row locks in one order (no deadlocks).
        const keys = Array.from({ length: size }, () => `k${Math.floor(Math.random() * KEYS)}`).sort();
        await inTransaction(pool, async (client) => {
          const messages = [];
          for (const key of keys) {
            const { rows } = await client.query(
              `INSERT INTO "${schema}".key_counter (key, n) VALUES ($1, 1)
               ON CONFLICT (key) DO UPDATE SET n = key_counter.n + 1 RETURNING n`,
              [key],
            );
            messages.push(Step.create({ key, n: rows[0].n }, { key }));
          }
          return outbox.add(client, messages);
        });
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));

    await waitUntil(`${MESSAGES} messages`, () => collector.messages.length >= MESSAGES, { timeoutMs: 60_000 });
    await waitUntil('an empty outbox', async () => (await outboxRowCount(pool, schema)) === 0, { timeoutMs: 30_000 });
    // Rows are deleted only once confirmed, so everything published is queued: receive all of it.
    await collector.flush();

    const arrived = collector.messages.map((m) => ({
      id: m.properties.messageId as string,
      ...(JSON.parse(m.content.toString()) as { key: string; n: number }),
    }));
    const unique = new Set(arrived.map((a) => a.id));
    expect(unique.size).toBe(MESSAGES); // none lost
    expect(arrived.length).toBe(MESSAGES); // none published twice

    const arrivalOrder = new Map<string, number[]>();
    for (const a of arrived) arrivalOrder.set(a.key, [...(arrivalOrder.get(a.key) ?? []), a.n]);
    expect(arrivalOrder.size).toBeGreaterThan(KEYS / 2);
    for (const [key, ns] of arrivalOrder) {
      expect(ns, `order of key ${key}`).toEqual(ns.map((_, i) => i + 1));
    }
  });
});
