import { createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import { afterEach, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../../test-support/index.js';
import { startTcpProxy, type TcpProxy } from '../../../../test-support/tcp-proxy.js';
import {
  arrivalsOf,
  crashWriter,
  duplicateCounts,
  outboxCount,
  perKeyOrderViolation,
  sleep,
  waitForIds,
  waitUntil,
  type WrittenMessage,
  writeCommitted,
} from './crash-support.js';

const WAIT_MS = 30_000;
const KEYS = ['k0', 'k1', 'k2', 'k3'];

const broker = useAmqp();

let proxies: TcpProxy[] = [];
let relays: OutboxRelay[] = [];

afterEach(async () => {
  await Promise.all(relays.map((r) => r.stop().catch(() => {})));
  await Promise.all(proxies.map((p) => p.close().catch(() => {})));
  proxies = [];
  relays = [];
});

async function proxiedRelay(schema: string, databaseUrl: string) {
  const amqpUrl = testAmqpUrl();
  const target = new URL(amqpUrl);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
  proxies.push(proxy);
  const relay = createRelay({
    database: databaseUrl,
    amqp: proxy.url(amqpUrl),
    schema,
    relayId: uniqueName('outage'),
    batchSize: 100,
    leaseMs: 5000,
    publishTimeoutMs: 2000,
    pollIntervalMs: 100,
    retention: { intervalMs: 0 },
  });
  relays.push(relay);
  return { proxy, relay };
}

/** Commits transactions of 5 messages (keyed and unkeyed) back to back until `until()` is true. */
async function writeStream(
  pool: Parameters<typeof writeCommitted>[0],
  writer: Parameters<typeof writeCommitted>[1],
  committed: WrittenMessage[],
  until: () => boolean,
): Promise<number> {
  let n = committed.length;
  let transactions = 0;
  while (!until()) {
    const batch = Array.from({ length: 5 }, () => {
      n += 1;
      return { n, key: n % 7 === 0 ? null : (KEYS[n % KEYS.length] as string) };
    });
    await writeCommitted(pool, writer, batch, 5, committed);
    transactions += 1;
    await sleep(10);
  }
  return transactions;
}

function report(label: string, committed: WrittenMessage[], messages: Parameters<typeof arrivalsOf>[0]) {
  const arrivals = arrivalsOf(messages);
  const arrived = new Set(arrivals.map((a) => a.id));
  const lost = committed.filter((m) => !arrived.has(m.id)).map((m) => m.id);
  const duplicates = duplicateCounts(arrivals);
  console.log(
    `[broker-outage/${label}] written=${committed.length} deliveries=${arrivals.length} lost=${lost.length} duplicatedIds=${duplicates.size}`,
  );
  return { arrivals, lost, duplicates };
}

describe('broker unreachable', () => {
  const db = useTestSchema('crash_outage');

  it('with the broker unreachable, writes keep committing and nothing is lost; the backlog drains once it is back', async () => {
    const { schema, pool, databaseUrl } = db;
    const exchange = uniqueName('crash_outage_x');
    await migrateOutbox({ database: databaseUrl, schema });
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange);
    const committed: WrittenMessage[] = [];
    const { proxy, relay } = await proxiedRelay(schema, databaseUrl);
    await relay.start();

    // Before the outage: the relay publishes through the proxy.
    await writeCommitted(
      pool,
      writer,
      Array.from({ length: 20 }, (_, i) => ({ n: i, key: KEYS[i % KEYS.length] as string })),
      5,
      committed,
    );
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      WAIT_MS,
    );
    await waitUntil('the outbox to drain before the outage', async () => (await relay.stats()).pending === 0, WAIT_MS);
    const beforeOutage = committed.length;

    proxy.down();
    const deliveriesAtDown = collector.messages.length;
    const pendingSamples: number[] = [];
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        pendingSamples.push((await relay.stats()).pending);
        await sleep(500);
      }
    })();
    const stopAt = Date.now() + 3000;
    // Any failed write throws here and fails the test.
    const transactions = await writeStream(pool, writer, committed, () => Date.now() >= stopAt);
    writing = false;
    await sampler;
    const writtenWhileDown = committed.length - beforeOutage;
    const pendingWhileDown = (await relay.stats()).pending;
    pendingSamples.push(pendingWhileDown);
    console.log(
      `[broker-outage/down] transactions=${transactions} writtenWhileDown=${writtenWhileDown} pendingSamples=${pendingSamples.join(',')}`,
    );

    expect(writtenWhileDown).toBeGreaterThan(0);
    // Nothing can be confirmed (or even reach the broker) while it is down: every write is pending.
    expect(pendingWhileDown).toBe(writtenWhileDown);
    expect(collector.messages.length).toBe(deliveriesAtDown);
    expect(pendingSamples.at(-1)).toBeGreaterThan(pendingSamples[0] as number);
    for (let i = 1; i < pendingSamples.length; i += 1) {
      expect(pendingSamples[i]).toBeGreaterThanOrEqual(pendingSamples[i - 1] as number);
    }

    proxy.restore();
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      WAIT_MS,
    );
    await waitUntil('the backlog to drain', async () => (await relay.stats()).pending === 0, WAIT_MS);

    const stopStarted = performance.now();
    await relay.stop();
    console.log(`[broker-outage/down] relay.stop() took ${Math.round(performance.now() - stopStarted)} ms`);

    const { arrivals, lost, duplicates } = report('down', committed, collector.messages);
    expect(lost).toEqual([]);
    // Nothing was in flight when the broker went away, so no message should have been sent twice.
    expect([...duplicates.keys()]).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
    expect(await outboxCount(pool, schema)).toBe(0);
  }, 90_000);
});

describe('broker connection cut mid-stream', () => {
  const db = useTestSchema('crash_cut');

  it('a connection cut while publishes are flowing is survived: the relay reconnects and nothing is lost', async () => {
    const { schema, pool, databaseUrl } = db;
    const exchange = uniqueName('crash_cut_x');
    await migrateOutbox({ database: databaseUrl, schema });
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange);
    const committed: WrittenMessage[] = [];
    const { proxy, relay } = await proxiedRelay(schema, databaseUrl);
    // A backlog, so the relay publishes full batches back to back and the cuts land mid-batch.
    await writeCommitted(
      pool,
      writer,
      Array.from({ length: 2000 }, (_, i) => ({ n: -2000 + i, key: i % 7 === 0 ? null : (KEYS[i % KEYS.length] as string) })),
      50,
      committed,
    );
    await relay.start();

    let writing = true;
    const stream = writeStream(pool, writer, committed, () => !writing);
    let cuts = 0;
    for (let i = 0; i < 4; i += 1) {
      // Let publishes flow (some must arrive since the previous cut), then cut every connection.
      const before = collector.messages.length;
      await waitUntil('publishes to flow', async () => collector.messages.length > before + 150, WAIT_MS, 1);
      proxy.cut();
      cuts += 1;
    }
    writing = false;
    await stream;

    await waitForIds(
      collector,
      committed.map((m) => m.id),
      WAIT_MS,
    );
    await waitUntil('the outbox to drain', async () => (await relay.stats()).pending === 0, WAIT_MS);
    const stopStarted = performance.now();
    await relay.stop();
    console.log(
      `[broker-outage/cut] cuts=${cuts} relay.stop() took ${Math.round(performance.now() - stopStarted)} ms`,
    );

    const { arrivals, lost } = report('cut', committed, collector.messages);
    expect(lost).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
    expect(await outboxCount(pool, schema)).toBe(0);
  }, 90_000);
});
