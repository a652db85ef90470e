import { defineMessage } from '@txbox/core';
import { createOutbox, createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, outboxRowCount, waitUntil } from './fixtures.js';

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

    // Writers commit concurrently while the relays run. The order in which commits
    // resolve, per key, is the ground truth for "commit order".
    const commitOrder = new Map<string, string[]>();
    let next = 0;
    const writer = async () => {
      while (next < MESSAGES) {
        const size = Math.min(1 + Math.floor(Math.random() * 3), MESSAGES - next);
        const messages = Array.from({ length: size }, () => {
          const n = next++;
          const key = `k${Math.floor(Math.random() * KEYS)}`;
          return { key, n };
        });
        const ids = await inTransaction(pool, (client) =>
          outbox.add(
            client,
            messages.map((m) => Step.create(m, { key: m.key })),
          ),
        );
        messages.forEach((m, i) => {
          const list = commitOrder.get(m.key) ?? [];
          list.push(ids[i] as string);
          commitOrder.set(m.key, list);
        });
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));

    await waitUntil(() => collector.messages.length >= MESSAGES, 60_000, `${MESSAGES} messages`);
    await waitUntil(async () => (await outboxRowCount(pool, schema)) === 0, 30_000, 'an empty outbox');
    await new Promise((r) => setTimeout(r, 300));

    const arrived = collector.messages.map((m) => ({
      id: m.properties.messageId as string,
      key: m.properties.headers?.['x-txbox-key'] as string,
    }));
    const ids = arrived.map((a) => a.id);
    const unique = new Set(ids);
    expect(unique.size).toBe(MESSAGES); // none lost
    expect(ids.length).toBe(MESSAGES); // none published twice

    const arrivalOrder = new Map<string, string[]>();
    for (const a of arrived) {
      const list = arrivalOrder.get(a.key) ?? [];
      list.push(a.id);
      arrivalOrder.set(a.key, list);
    }
    for (const [key, committed] of commitOrder) {
      expect(arrivalOrder.get(key), `order of key ${key}`).toEqual(committed);
    }
  });
});
