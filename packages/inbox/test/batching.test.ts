import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { createEffectsTable, drainQueue, effectCounts, publishEnvelope, queueDepth } from './fixtures.js';

const Work = defineMessage({
  type: 'batch.work',
  version: 1,
  schema: z.object({ key: z.string(), n: z.number().int(), poison: z.boolean().default(false) }),
});

const { schema, pool, databaseUrl } = useTestSchema('inbox_batch');
const amqp = useAmqp();
const exchange = uniqueName('batch_events');
let consumer: InboxConsumer;
let effects: string;

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
  consumer = createConsumer({
    group: uniqueName('batched'),
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    concurrency: 4,
    batch: { maxMessages: 16, maxWaitMs: 5 },
    retry: { maxAttempts: 1 },
    handlers: [
      defineHandler(Work, async (payload, ctx) => {
        // Written before the failure: the rollback of the poison message's batch must discard it.
        await ctx.client.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [
          ctx.envelope.id,
          `${payload.key}:${payload.n}`,
        ]);
        if (payload.poison) throw new Error('poison');
      }),
    ],
  });
  await consumer.start();
});
afterAll(async () => {
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
});

describe('several deliveries per transaction (batch option)', () => {
  it('applies each message once under replays, with a failing handler rolled back and its batch run again alone, in per-key order', async () => {
    const KEYS = 8;
    const PER_KEY = 40;
    const ids: string[] = [];
    const poison: string[] = [];
    for (let n = 1; n <= PER_KEY; n++) {
      for (let k = 0; k < KEYS; k++) {
        const id = publishEnvelope(amqp.channel, exchange, {
          type: Work.type,
          key: `k${k}`,
          payload: { key: `k${k}`, n },
        });
        ids.push(id);
        // Every third message is delivered again right away: it may land in the same batch.
        if (n % 3 === 0)
          publishEnvelope(amqp.channel, exchange, { id, type: Work.type, key: `k${k}`, payload: { key: `k${k}`, n } });
      }
      if (n % 10 === 0) {
        poison.push(
          publishEnvelope(amqp.channel, exchange, { type: Work.type, payload: { key: 'poison', n, poison: true } }),
        );
      }
    }
    await waitUntil(
      'all messages handled',
      async () => {
        const s = await consumer.stats();
        return s.processed === ids.length && s.deadLettered === poison.length;
      },
      { timeoutMs: 60_000 },
    );
    const counts = await effectCounts(pool, effects);
    expect(ids.every((id) => counts.get(id) === 1)).toBe(true);
    expect(poison.every((id) => counts.get(id) === undefined)).toBe(true);
    // Per-key order as committed: the effects of a key, in the order they were written.
    const { rows } = await pool.query<{ info: string }>(`SELECT info FROM ${effects} ORDER BY at`);
    const order = new Map<string, number[]>();
    for (const { info } of rows) {
      const [key, n] = info.split(':') as [string, string];
      order.set(key, [...(order.get(key) ?? []), Number(n)]);
    }
    expect(order.size).toBe(KEYS);
    for (const [key, ns] of order) expect(ns, key).toEqual(Array.from({ length: PER_KEY }, (_, i) => i + 1));
    const stats = await consumer.stats();
    expect(stats.duplicatesSkipped).toBe(KEYS * Math.floor(PER_KEY / 3));
    expect(await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)).toBe(poison.length);
    const dead = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    expect(dead.map((d) => d.properties.messageId).sort()).toEqual([...poison].sort());
  });
});
