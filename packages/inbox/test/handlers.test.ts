import 'reflect-metadata';
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, INBOX_HEADERS, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import { DataSource, type EntityManager } from 'typeorm';
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
import { createEffectsTable, drainQueue, publishEnvelope, queueDepth } from './fixtures.js';

const OrderPlacedV1 = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), total: z.number() }),
});
const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 2,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int(), currency: z.string().length(3) }),
  upcast: {
    from: OrderPlacedV1,
    transform: (v1) => ({ orderId: v1.orderId, totalCents: Math.round(v1.total * 100), currency: 'EUR' }),
  },
});
const PaymentSucceeded = defineMessage({
  type: 'billing.payment-succeeded',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});
const Step = defineMessage({
  type: 'sequence.step',
  version: 1,
  schema: z.object({ key: z.string(), n: z.number().int() }),
});

const { schema, pool, databaseUrl } = useTestSchema('inbox_handlers');
const amqp = useAmqp();
const exchange = uniqueName('handler_events');
const consumers: InboxConsumer[] = [];
let effects: string;
let dataSource: DataSource;

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  await migrateOutbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
  dataSource = new DataSource({ type: 'postgres', url: databaseUrl, entities: [] });
  await dataSource.initialize();
});
afterAll(async () => {
  for (const c of consumers) {
    await c.stop();
    await deleteTopology(amqp.channel, c.topology);
  }
  await dataSource?.destroy();
});

function consumer(
  options: Omit<Parameters<typeof createConsumer>[0], 'database' | 'amqp' | 'schema' | 'exchange' | 'group'> & {
    group?: string;
  },
) {
  const c = createConsumer({
    group: uniqueName('g'),
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    ...options,
  });
  consumers.push(c);
  return c;
}

describe('contracts at the consumer', () => {
  it('an older contract version is upcast and validated before the handler sees it', async () => {
    const seen: unknown[] = [];
    const c = consumer({ handlers: [defineHandler(OrderPlaced, async (payload) => void seen.push(payload))] });
    await c.start();
    publishEnvelope(amqp.channel, exchange, {
      type: OrderPlaced.type,
      version: 1,
      payload: { orderId: 'o-1', total: 12.5 },
    });
    publishEnvelope(amqp.channel, exchange, {
      type: OrderPlaced.type,
      version: 2,
      payload: { orderId: 'o-2', totalCents: 300, currency: 'USD' },
    });
    await waitUntil('both messages to be handled', () => seen.length === 2);
    expect(seen).toEqual(
      expect.arrayContaining([
        { orderId: 'o-1', totalCents: 1250, currency: 'EUR' },
        { orderId: 'o-2', totalCents: 300, currency: 'USD' },
      ]),
    );
  });

  it('an unknown type is dead-lettered by default, and acknowledged with onUnknownType discard', async () => {
    const strict = consumer({ bindings: ['#'], handlers: [defineHandler(Step, async () => {})] });
    await strict.start();
    publishEnvelope(amqp.channel, exchange, { type: 'nobody.handles-this', payload: {} });
    await waitUntil(
      'the unknown type to be dead-lettered',
      async () => (await queueDepth(amqp.channel, strict.topology.deadLetterQueue)) >= 1,
    );
    const [dead] = await drainQueue(amqp.channel, strict.topology.deadLetterQueue);
    expect(dead?.properties.headers?.[INBOX_HEADERS.reason]).toBe('unknown type');
    await strict.stop();

    const lenient = consumer({
      bindings: ['nobody.#'],
      onUnknownType: 'discard',
      handlers: [defineHandler(Step, async () => {})],
    });
    await lenient.start();
    publishEnvelope(amqp.channel, exchange, { type: 'nobody.handles-this', payload: {} });
    await waitUntil('the unknown type to be discarded', async () => (await lenient.stats()).discarded === 1);
    expect(await queueDepth(amqp.channel, lenient.topology.deadLetterQueue)).toBe(0);
  });
});

describe('per-key order with concurrency above 1', () => {
  it('handlers of one key run one at a time in delivery order; keys run in parallel', async () => {
    const applied = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    const c = consumer({
      concurrency: 8,
      handlers: [
        defineHandler(Step, async ({ key, n }) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          applied.set(key, [...(applied.get(key) ?? []), n]);
          running -= 1;
        }),
      ],
    });
    await c.start();
    const KEYS = 10;
    const PER_KEY = 30;
    for (let n = 1; n <= PER_KEY; n++) {
      for (let k = 0; k < KEYS; k++) {
        publishEnvelope(amqp.channel, exchange, { type: Step.type, key: `key-${k}`, payload: { key: `key-${k}`, n } });
      }
    }
    await waitUntil(
      'every message of every key to be applied',
      () => [...applied.values()].reduce((a, l) => a + l.length, 0) === KEYS * PER_KEY,
    );
    for (const [key, ns] of applied) expect(ns, key).toEqual(Array.from({ length: PER_KEY }, (_, i) => i + 1));
    expect(maxRunning).toBeGreaterThan(1);
  });
});

describe('per-key order across instances', () => {
  it('with singleActiveConsumer, two instances of a group keep per-key order (one consumes, one stands by)', async () => {
    const group = uniqueName('sac');
    const applied = new Map<string, number[]>();
    const byInstance = [0, 0];
    const instance = (index: number) =>
      consumer({
        group,
        singleActiveConsumer: true,
        concurrency: 8,
        handlers: [
          defineHandler(Step, async ({ key, n }) => {
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            applied.set(key, [...(applied.get(key) ?? []), n]);
            byInstance[index] = (byInstance[index] ?? 0) + 1;
          }),
        ],
      });
    const first = instance(0);
    const second = instance(1);
    await first.start();
    await second.start();
    const KEYS = 10;
    const PER_KEY = 20;
    for (let n = 1; n <= PER_KEY; n++) {
      for (let k = 0; k < KEYS; k++) {
        publishEnvelope(amqp.channel, exchange, { type: Step.type, key: `sac-${k}`, payload: { key: `sac-${k}`, n } });
      }
    }
    await waitUntil(
      'every message of every key to be applied',
      () => [...applied.values()].reduce((a, l) => a + l.length, 0) === KEYS * PER_KEY,
    );
    for (const [key, ns] of applied) expect(ns, key).toEqual(Array.from({ length: PER_KEY }, (_, i) => i + 1));
    expect(byInstance.filter((n) => n > 0)).toHaveLength(1);
  });
});

describe('consume-then-produce in one commit', () => {
  it('a handler writing through its bound outbox produces a message only if its transaction commits, caused by the consumed message', async () => {
    const outbox = createOutbox({ contracts: [PaymentSucceeded], schema, exchange });
    let failNext = true;
    const c = consumer({
      outbox,
      retry: { delaysMs: [100] },
      handlers: [
        defineHandler(OrderPlaced, async (payload, ctx) => {
          await ctx.outbox.add(
            PaymentSucceeded.create({ orderId: payload.orderId }, { key: `order:${payload.orderId}` }),
          );
          if (failNext) {
            failNext = false;
            throw new Error('crash after producing, before commit');
          }
        }),
      ],
    });
    await c.start();
    const consumedId = publishEnvelope(amqp.channel, exchange, {
      type: OrderPlaced.type,
      version: 2,
      correlationId: 'conversation-7',
      payload: { orderId: 'o-77', totalCents: 1, currency: 'EUR' },
    });
    await waitUntil('the message to be processed', async () => (await c.stats()).processed === 1);
    const { rows } = await pool.query(`SELECT id, causation_id, correlation_id, payload FROM "${schema}".outbox`);
    expect(rows).toHaveLength(1); // the failed attempt's message rolled back with it
    expect(rows[0]).toMatchObject({
      causation_id: consumedId,
      correlation_id: 'conversation-7',
      payload: { orderId: 'o-77' },
    });

    // And the relay publishes it with the causation header.
    const collector = await amqp.bindCollector(exchange, PaymentSucceeded.type);
    const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false });
    await relay.runOnce();
    await relay.stop();
    const [published] = await collector.waitFor(1);
    expect(published?.properties.headers?.['x-txbox-causation-id']).toBe(consumedId);
    expect(published?.properties.correlationId).toBe('conversation-7');
  });

  it('with a TypeORM DataSource, the handler gets an EntityManager on the inbox transaction', async () => {
    const c = consumer({
      dataSource,
      handlers: [
        defineHandler(Step, async (payload, ctx) => {
          const manager = ctx.manager as EntityManager;
          await manager.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [
            ctx.envelope.id,
            payload.key,
          ]);
          const { rows } = await ctx.client.query(`SELECT count(*)::int AS n FROM ${effects} WHERE message_id = $1`, [
            ctx.envelope.id,
          ]);
          // The pg client sees the manager's uncommitted write: one transaction.
          if (rows[0].n !== 1) throw new Error('not the same transaction');
          if (payload.n === 2) throw new Error('roll me back');
        }),
      ],
      retry: { maxAttempts: 1 },
    });
    await c.start();
    const committed = publishEnvelope(amqp.channel, exchange, { type: Step.type, payload: { key: 'typeorm', n: 1 } });
    const rolledBack = publishEnvelope(amqp.channel, exchange, { type: Step.type, payload: { key: 'typeorm', n: 2 } });
    await waitUntil('one committed and one dead-lettered', async () => {
      const s = await c.stats();
      return s.processed === 1 && s.deadLettered === 1;
    });
    const { rows } = await pool.query(`SELECT message_id FROM ${effects} WHERE info = 'typeorm'`);
    expect(rows.map((r) => r.message_id)).toEqual([committed]);
    expect(rows.map((r) => r.message_id)).not.toContain(rolledBack);
  });
});

describe('configuration', () => {
  it('rejects bad options with errors naming the option', () => {
    const base = { database: databaseUrl, amqp: testAmqpUrl(), schema };
    expect(() => createConsumer({ ...base, group: 'has space' })).toThrow(
      expect.objectContaining({ option: 'inbox.group' }),
    );
    expect(() => createConsumer({ ...base, group: 'g', concurrency: 0 })).toThrow(
      expect.objectContaining({ option: 'inbox.concurrency' }),
    );
    expect(() => createConsumer({ ...base, group: 'g', schema: 'Bad"' })).toThrow(
      expect.objectContaining({ code: 'IDENTIFIER_INVALID' }),
    );
    expect(() => createConsumer({ ...base, group: 'g', exchange: 'amq.topic' })).toThrow(
      expect.objectContaining({ code: 'IDENTIFIER_INVALID' }),
    );
    expect(() => createConsumer({ ...base, group: 'g', amqp: 'localhost:5672' })).toThrow(
      expect.objectContaining({ option: 'inbox.amqp' }),
    );
    const c = createConsumer({ ...base, group: 'g' });
    c.handle(OrderPlaced, async () => {});
    expect(() => c.handle(OrderPlaced, async () => {})).toThrow(expect.objectContaining({ option: 'inbox.handlers' }));
    expect(() => c.handle({ type: 'x' } as never, async () => {})).toThrow(
      expect.objectContaining({ option: 'inbox.handlers' }),
    );
  });

  it('refuses to start without handlers or on an unmigrated schema', async () => {
    const base = { database: databaseUrl, amqp: testAmqpUrl() };
    const empty = createConsumer({ ...base, schema, group: uniqueName('empty') });
    await expect(empty.start()).rejects.toMatchObject({ option: 'inbox.handlers' });
    await empty.stop();
    const unmigrated = createConsumer({
      ...base,
      schema: uniqueName('nothing_here'),
      group: uniqueName('g'),
      handlers: [defineHandler(Step, async () => {})],
    });
    await expect(unmigrated.start()).rejects.toMatchObject({ code: 'SCHEMA_NOT_MIGRATED' });
    await unmigrated.stop();
  });
});
