import { createOutbox, createRelay, defaultRetryStrategy, migrateOutbox } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced, outboxRowCount } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_dlq');
const amqp = useAmqp();
const relays: { stop(): Promise<void> }[] = [];

function relayFor(options: Partial<Parameters<typeof createRelay>[0]>) {
  const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false, ...options });
  relays.push(relay);
  return relay;
}

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
});

async function writeOne(exchange: string, orderId: string) {
  const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
  return inTransaction(pool, (c) => outbox.add(c, OrderPlaced.create({ orderId, totalCents: 1 })));
}

describe('unroutable messages are never silently marked published', () => {
  it("onUnroutable 'dead-letter' moves the message to the dead letters at once, with the reason and its history", async () => {
    const exchange = uniqueName('nobody_listens');
    const id = await writeOne(exchange, 'unroutable-1');
    const result = await relayFor({ onUnroutable: 'dead-letter' }).runOnce();
    expect(result).toMatchObject({ claimed: 1, published: 0, unroutable: 1, deadLettered: 1 });
    const relay = relayFor({});
    const [dead] = await relay.deadLetters.list();
    expect(dead).toMatchObject({ id, reason: 'unroutable', attempts: 1, exchange, type: OrderPlaced.type });
    expect(dead?.lastError).toContain('No queue is bound');
    expect(dead?.attemptHistory).toHaveLength(1);
    expect(dead?.attemptHistory[0]).toMatchObject({ attempt: 1, code: 'PUBLISH_UNROUTABLE' });
    expect(await outboxRowCount(pool, schema)).toBe(0);
    await relay.deadLetters.purge('all');
  });

  it("onUnroutable 'retry' retries with backoff, then dead-letters with every attempt recorded", async () => {
    const exchange = uniqueName('nobody_listens');
    const id = await writeOne(exchange, 'unroutable-2');
    const relay = relayFor({
      onUnroutable: 'retry',
      retryStrategy: defaultRetryStrategy({ maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 100 }),
    });
    expect(await relay.runOnce()).toMatchObject({ unroutable: 1, retried: 1 });
    const { rows } = await pool.query(`SELECT attempts, available_at > now() AS later FROM "${schema}".outbox`);
    expect(rows[0]).toMatchObject({ attempts: 1 });
    let deadLettered = 0;
    for (let i = 0; i < 50 && deadLettered === 0; i++) {
      await new Promise((r) => setTimeout(r, 60));
      deadLettered += (await relay.runOnce()).deadLettered;
    }
    const [dead] = await relay.deadLetters.list();
    expect(dead).toMatchObject({ id, reason: 'retries exhausted', attempts: 3 });
    expect(dead?.attemptHistory.map((a) => (a as { attempt: number }).attempt)).toEqual([1, 2, 3]);
    await relay.deadLetters.purge([id]);
    expect(await relay.deadLetters.list()).toHaveLength(0);
  });

  it("onUnroutable 'discard' counts the message as published", async () => {
    const exchange = uniqueName('nobody_listens');
    await writeOne(exchange, 'unroutable-3');
    expect(await relayFor({ onUnroutable: 'discard' }).runOnce()).toMatchObject({ published: 1, unroutable: 1 });
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });
});

describe('dead letters can be listed, requeued with the same id, and purged', () => {
  it('a requeued dead letter is published with its original id once a queue is bound', async () => {
    const exchange = uniqueName('late_binding');
    const id = await writeOne(exchange, 'requeue-me');
    const relay = relayFor({ onUnroutable: 'dead-letter' });
    await relay.runOnce();
    expect((await relay.deadLetters.list({ type: OrderPlaced.type })).map((d) => d.id)).toEqual([id]);
    expect(await relay.deadLetters.list({ type: 'other.type' })).toEqual([]);

    const collector = await amqp.bindCollector(exchange, '#');
    expect(await relay.deadLetters.requeue([id])).toEqual([id]);
    expect(await relay.deadLetters.list()).toHaveLength(0);
    expect(await relay.runOnce()).toMatchObject({ published: 1 });
    const [message] = await collector.waitFor(1);
    expect(message?.properties.messageId).toBe(id);
  });

  it('rejects ids that are not UUIDs', async () => {
    const relay = relayFor({});
    await expect(relay.deadLetters.requeue(['nope'])).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await expect(relay.deadLetters.list({ limit: 0 })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  });
});

describe('retention and stats', () => {
  it("with published 'keep', rows stay with published_at until cleanup removes them in batches", async () => {
    const exchange = uniqueName('kept');
    await amqp.bindCollector(exchange, '#');
    for (let i = 0; i < 5; i++) await writeOne(exchange, `kept-${i}`);
    const relay = relayFor({ published: 'keep', retention: { publishedMs: 0, batchSize: 2 } });
    expect(await relay.stats()).toMatchObject({ pending: 5, due: 5, leased: 0 });
    await relay.runOnce();
    expect(await relay.stats()).toMatchObject({ pending: 0, publishedRetained: 5, oldestDueAgeMs: 0 });
    expect(await relay.cleanup()).toMatchObject({ publishedDeleted: 5 });
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('stats report the age of the oldest due message', async () => {
    const exchange = uniqueName('lagging');
    await writeOne(exchange, 'waiting');
    await new Promise((r) => setTimeout(r, 120));
    const stats = await relayFor({}).stats();
    expect(stats.due).toBe(1);
    expect(stats.oldestDueAgeMs).toBeGreaterThanOrEqual(100);
    await pool.query(`DELETE FROM "${schema}".outbox`);
  });
});
