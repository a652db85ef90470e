import { randomUUID } from 'node:crypto';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  sleep,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
  withDeadline,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import {
  CrashApplied,
  createEffectsTable,
  effectCounts,
  effectsTable,
  INSERT_EFFECT,
  inboxRecords,
  openPublisher,
  publishRaw,
  totalEffects,
} from './inbox-crash-support.js';

const WAIT_MS = 60_000;
const UNIQUE = 160;

const db = useTestSchema('inbox_reconnect');
const cleanup = useCleanup();
const broker = useAmqp();

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
  await createEffectsTable(db.pool, db.schema);
});

describe('inbox consumer losing its RabbitMQ connection', () => {
  it('after the connection is lost, the consumer reconnects and nothing is lost or applied twice', async () => {
    const group = uniqueName('inbox_reconn_g');
    const exchange = uniqueName('inbox_reconn_x');
    const amqpUrl = testAmqpUrl();
    const target = new URL(amqpUrl);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
    cleanup.defer(() => proxy.close());

    const warnings: string[] = [];
    const consumer = createConsumer({
      group,
      database: db.databaseUrl,
      amqp: proxy.url(amqpUrl),
      schema: db.schema,
      exchange,
      concurrency: 4,
      prefetch: 8,
      retention: { intervalMs: 0 },
      handlers: [
        defineHandler(CrashApplied, async (_payload, ctx) => {
          await ctx.client.query(INSERT_EFFECT(effectsTable(db.schema)), [ctx.envelope.id, 'consumer']);
          // Slow enough that the stream is still flowing when the connection is cut.
          await sleep(25);
        }),
      ],
      logger: {
        debug() {},
        info() {},
        warn: (message) => warnings.push(message),
        error: (message) => warnings.push(message),
      },
    });
    cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
    cleanup.defer(() => consumer.stop());
    await consumer.start();

    // 160 ids, 40 of which are published a second time a few messages later: 200 deliveries.
    const ids = Array.from({ length: UNIQUE }, () => randomUUID());
    const order: number[] = [];
    for (let i = 0; i < UNIQUE; i += 1) {
      order.push(i);
      if (i % 4 === 3) order.push(i - 3);
    }
    expect(order).toHaveLength(200);

    const publisher = await openPublisher(broker.connection);
    cleanup.defer(() => publisher.close());
    for (const i of order) publishRaw(publisher, exchange, ids[i] as string, i);
    await publisher.waitForConfirms();

    // Cut the connection twice while the backlog is being consumed: unacknowledged deliveries
    // (some of them already committed) return to the queue and come back after the reconnect.
    for (const threshold of [40, 100]) {
      await waitUntil(
        `${threshold} effects before cutting`,
        async () => (await totalEffects(db.pool, db.schema)) >= threshold,
        { timeoutMs: WAIT_MS, intervalMs: 5 },
      );
      proxy.cut();
    }
    const cutAt = await totalEffects(db.pool, db.schema);
    expect(cutAt, 'the second cut happened mid-stream').toBeLessThan(UNIQUE);

    let missingCount = UNIQUE;
    await waitUntil(
      () => `every id to have an effect (${missingCount} missing)`,
      async () => {
        const counts = await effectCounts(db.pool, db.schema);
        missingCount = ids.filter((id) => !counts.has(id)).length;
        return missingCount === 0;
      },
      { timeoutMs: WAIT_MS, intervalMs: 50 },
    );

    // Nothing applied twice: exactly one effect row per id, and one inbox record per id.
    const counts = await effectCounts(db.pool, db.schema);
    expect(counts.size).toBe(UNIQUE);
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(await totalEffects(db.pool, db.schema)).toBe(UNIQUE);
    expect(await inboxRecords(db.pool, db.schema, group)).toBe(UNIQUE);

    // The consumer did lose its channel (twice) and came back.
    expect(warnings.filter((w) => w.includes('channel closed')).length).toBeGreaterThanOrEqual(2);
    await waitUntil('the consumer to be connected again', async () => (await consumer.stats()).connected, {
      timeoutMs: WAIT_MS,
    });

    // Every delivery (the 200, plus redeliveries of what was unacknowledged at each cut) is settled.
    await waitUntil(
      'the queue to drain',
      async () => {
        const { messageCount } = await broker.channel.checkQueue(group);
        const s = await consumer.stats();
        return messageCount === 0 && s.inFlight === 0;
      },
      { timeoutMs: WAIT_MS },
    );
    const stats = await consumer.stats();
    expect(stats).toMatchObject({ processed: UNIQUE, retried: 0, deadLettered: 0, connected: true, records: UNIQUE });
    // The 40 published duplicates, plus deliveries committed after a cut (their ack lost with the
    // channel) whose redelivery was skipped: the cuts did hit committed-but-unacknowledged work.
    expect(stats.duplicatesSkipped).toBeGreaterThan(200 - UNIQUE);

    // It keeps consuming after the cuts.
    const after = Array.from({ length: 10 }, () => randomUUID());
    after.forEach((id, n) => {
      publishRaw(publisher, exchange, id, 1000 + n);
    });
    await publisher.waitForConfirms();
    await waitUntil(
      'the messages published after the cuts to be applied',
      async () => {
        const c = await effectCounts(db.pool, db.schema);
        return after.every((id) => c.get(id) === 1);
      },
      { timeoutMs: WAIT_MS },
    );
    expect(await totalEffects(db.pool, db.schema)).toBe(UNIQUE + after.length);
    expect((await consumer.stats()).connected).toBe(true);

    // stop() resolves promptly (well within its 10 s handler wait: nothing is running).
    await withDeadline(consumer.stop(), 9_000, 'stop() after the reconnects');
  });
});
