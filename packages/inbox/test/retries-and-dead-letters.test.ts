import { defineMessage } from '@txbox/core';
import {
  createConsumer,
  defineHandler,
  INBOX_HEADERS,
  type InboxConsumer,
  migrateInbox,
  NonRetryableError,
} from '@txbox/inbox';
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

const Charge = defineMessage({
  type: 'billing.charge',
  version: 1,
  schema: z.object({ behaviour: z.enum(['ok', 'fail-twice', 'always-fail', 'reject']), amountCents: z.number().int() }),
});

const { schema, pool, databaseUrl } = useTestSchema('inbox_retry');
const amqp = useAmqp();
const exchange = uniqueName('retry_events');
const group = uniqueName('charges');
let consumer: InboxConsumer;
let effects: string;
const attemptsSeen = new Map<string, number[]>();

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  effects = await createEffectsTable(pool, schema);
  consumer = createConsumer({
    group,
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    concurrency: 4,
    retry: { delaysMs: [200, 400] },
    handlers: [
      defineHandler(Charge, async (payload, ctx) => {
        const id = ctx.envelope.id;
        attemptsSeen.set(id, [...(attemptsSeen.get(id) ?? []), ctx.attempt]);
        // The effect is written first, so a failure proves the rollback discards it.
        await ctx.client.query(`INSERT INTO ${effects} (message_id, info) VALUES ($1, $2)`, [id, payload.behaviour]);
        if (payload.behaviour === 'fail-twice' && ctx.attempt <= 2) throw new Error(`transient failure ${ctx.attempt}`);
        if (payload.behaviour === 'always-fail') throw new Error('downstream is broken');
        if (payload.behaviour === 'reject') throw new NonRetryableError('amount above the customer limit');
      }),
    ],
  });
  await consumer.start();
});
afterAll(async () => {
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
});

function publish(behaviour: string, extra: Record<string, unknown> = {}) {
  return publishEnvelope(amqp.channel, exchange, {
    type: Charge.type,
    payload: { behaviour, amountCents: 100 },
    ...extra,
  });
}

describe('failing handlers', () => {
  it('a handler that fails twice then succeeds is applied once, after two delays', async () => {
    const id = publish('fail-twice');
    await waitUntil(
      'the third attempt to succeed',
      () => (attemptsSeen.get(id)?.length ?? 0) >= 3 && consumer.stats().then((s) => s.processed >= 1),
    );
    expect(attemptsSeen.get(id)).toEqual([1, 2, 3]);
    expect((await effectCounts(pool, effects)).get(id)).toBe(1);
    const { rows } = await pool.query(`SELECT attempts FROM "${schema}".inbox WHERE message_id = $1`, [id]);
    expect(rows).toEqual([{ attempts: 3 }]);
  });

  it('one that always fails ends in the dead-letter queue with its history, while the queue keeps flowing', async () => {
    const poison = publish('always-fail');
    const healthy = Array.from({ length: 20 }, () => publish('ok'));
    await waitUntil(
      'a dead letter',
      async () => (await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)) >= 1,
    );
    const counts = await effectCounts(pool, effects);
    expect(healthy.every((id) => counts.get(id) === 1)).toBe(true);
    expect(counts.get(poison)).toBeUndefined();
    expect(attemptsSeen.get(poison)).toEqual([1, 2, 3]);

    const [dead] = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    expect(dead?.properties.messageId).toBe(poison);
    const headers = dead?.properties.headers ?? {};
    expect(headers[INBOX_HEADERS.reason]).toBe('retries exhausted');
    expect(headers[INBOX_HEADERS.error]).toBe('downstream is broken');
    expect(headers[INBOX_HEADERS.group]).toBe(group);
    expect(headers[INBOX_HEADERS.originalRoutingKey]).toBe(Charge.type);
    const history = JSON.parse(String(headers[INBOX_HEADERS.history]));
    expect(history.map((h: { attempt: number }) => h.attempt)).toEqual([1, 2, 3]);
    expect(history.every((h: { error: string }) => h.error === 'downstream is broken')).toBe(true);
    expect(JSON.parse(dead?.content.toString() ?? '')).toEqual({ behaviour: 'always-fail', amountCents: 100 });
  });

  it('a NonRetryableError dead-letters at once', async () => {
    const id = publish('reject');
    await waitUntil(
      'a dead letter',
      async () => (await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)) >= 1,
    );
    const [dead] = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    expect(dead?.properties.messageId).toBe(id);
    expect(dead?.properties.headers?.[INBOX_HEADERS.reason]).toBe('not retryable');
    expect(attemptsSeen.get(id)).toEqual([1]);
  });
});

describe('bad input never loops and never crashes the consumer', () => {
  async function deadLetterOf(send: () => void) {
    send();
    await waitUntil(
      'a dead letter',
      async () => (await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)) >= 1,
    );
    const [dead] = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    return dead;
  }

  it('an invalid payload goes to the dead-letter queue at once, with the reason', async () => {
    const dead = await deadLetterOf(() =>
      publishEnvelope(amqp.channel, exchange, { type: Charge.type, payload: { behaviour: 'ok', amountCents: 'ten' } }),
    );
    expect(dead?.properties.headers?.[INBOX_HEADERS.reason]).toBe('invalid payload');
    expect(String(dead?.properties.headers?.[INBOX_HEADERS.error])).toContain('amountCents');
  });

  it('a body that is not JSON, and a message without id, go to the dead-letter queue as malformed', async () => {
    const notJson = await deadLetterOf(() =>
      amqp.channel.publish(exchange, Charge.type, Buffer.from('{not json'), { messageId: 'm-1', type: Charge.type }),
    );
    expect(notJson?.properties.headers?.[INBOX_HEADERS.reason]).toBe('malformed');
    expect(String(notJson?.properties.headers?.[INBOX_HEADERS.error])).toContain('not valid JSON');
    const noId = await deadLetterOf(() =>
      amqp.channel.publish(exchange, Charge.type, Buffer.from('{}'), { type: Charge.type }),
    );
    expect(noId?.properties.headers?.[INBOX_HEADERS.reason]).toBe('malformed');
    expect(String(noId?.properties.headers?.[INBOX_HEADERS.error])).toContain('message-id');
  });

  it('an unknown version and a garbled version header are dead-lettered with a reason', async () => {
    const unknownVersion = await deadLetterOf(() =>
      publishEnvelope(amqp.channel, exchange, {
        type: Charge.type,
        version: 7,
        payload: { behaviour: 'ok', amountCents: 1 },
      }),
    );
    expect(unknownVersion?.properties.headers?.[INBOX_HEADERS.reason]).toBe('unknown version');
    const garbled = await deadLetterOf(() =>
      amqp.channel.publish(exchange, Charge.type, Buffer.from('{}'), {
        messageId: 'm-2',
        type: Charge.type,
        headers: { 'x-txbox-version': 'abc' },
      }),
    );
    expect(garbled?.properties.headers?.[INBOX_HEADERS.reason]).toBe('malformed');
  });

  it('the consumer is still consuming after a burst of every kind of bad input', async () => {
    // Self-contained: its own bad input, counted from an empty dead-letter queue.
    await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    const deadBefore = (await consumer.stats()).deadLettered;
    publishEnvelope(amqp.channel, exchange, { type: Charge.type, payload: { behaviour: 'ok', amountCents: 'ten' } });
    amqp.channel.publish(exchange, Charge.type, Buffer.from('{not json'), {
      messageId: 'm-burst-1',
      type: Charge.type,
    });
    amqp.channel.publish(exchange, Charge.type, Buffer.from('{}'), { type: Charge.type });
    publishEnvelope(amqp.channel, exchange, {
      type: Charge.type,
      version: 7,
      payload: { behaviour: 'ok', amountCents: 1 },
    });
    amqp.channel.publish(exchange, Charge.type, Buffer.from('{}'), {
      messageId: 'm-burst-2',
      type: Charge.type,
      headers: { 'x-txbox-version': 'abc' },
    });
    await waitUntil(
      'the five bad deliveries in the dead-letter queue',
      async () => (await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)) >= 5,
    );

    const id = publish('ok');
    await waitUntil('the message to be applied', async () => (await effectCounts(pool, effects)).get(id) === 1);
    expect((await consumer.stats()).connected).toBe(true);
    expect((await consumer.stats()).deadLettered).toBe(deadBefore + 5);
    const dead = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
    expect(dead.map((m) => m.properties.headers?.[INBOX_HEADERS.reason]).sort()).toEqual([
      'invalid payload',
      'malformed',
      'malformed',
      'malformed',
      'unknown version',
    ]);
  });
});
