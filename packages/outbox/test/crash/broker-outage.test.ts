import { createRelay, migrateOutbox, type OutboxRelay, type OutboxRelayOptions } from '@txbox/outbox';
import { describe, expect, it } from 'vitest';
import {
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
  arrivalsOf,
  crashWriter,
  duplicateCounts,
  outboxCount,
  perKeyOrderViolation,
  type WrittenMessage,
  waitForIds,
  writeCommitted,
} from './crash-support.js';

const WAIT_MS = 30_000;
const KEYS = ['k0', 'k1', 'k2', 'k3'];

const broker = useAmqp();

const cleanup = useCleanup();

/** Resolves with 'stopped'; rejects if stop() has not resolved within `guardMs`. */
function stopWithin(relay: OutboxRelay, guardMs: number): Promise<'stopped'> {
  return withDeadline(
    relay.stop().then(() => 'stopped' as const),
    guardMs,
    `stop() of relay ${relay.relayId}`,
  );
}

async function proxiedRelay(schema: string, databaseUrl: string, options: Partial<OutboxRelayOptions> = {}) {
  const amqpUrl = testAmqpUrl();
  const target = new URL(amqpUrl);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
  cleanup.defer(() => proxy.close());
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
    ...options,
  });
  cleanup.defer(() => stopWithin(relay, 15_000));
  // First of all: resume the proxy, so a relay hung on a stalled connection can finish stopping.
  cleanup.defer(() => proxy.resume());
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
    await waitUntil('the outbox to drain before the outage', async () => (await relay.stats()).pending === 0, {
      timeoutMs: WAIT_MS,
    });
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
    await waitUntil('the backlog to drain', async () => (await relay.stats()).pending === 0, { timeoutMs: WAIT_MS });

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
      Array.from({ length: 2000 }, (_, i) => ({
        n: -2000 + i,
        key: i % 7 === 0 ? null : (KEYS[i % KEYS.length] as string),
      })),
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
      await waitUntil('publishes to flow', async () => collector.messages.length > before + 150, {
        timeoutMs: WAIT_MS,
        intervalMs: 1,
      });
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
    await waitUntil('the outbox to drain', async () => (await relay.stats()).pending === 0, { timeoutMs: WAIT_MS });
    const stopStarted = performance.now();
    await relay.stop();
    console.log(`[broker-outage/cut] cuts=${cuts} relay.stop() took ${Math.round(performance.now() - stopStarted)} ms`);

    const { arrivals, lost } = report('cut', committed, collector.messages);
    expect(lost).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
    expect(await outboxCount(pool, schema)).toBe(0);
  }, 90_000);
});

describe('broker connection hung (no reset, no bytes)', () => {
  const db = useTestSchema('crash_hung');

  it('a hung broker connection does not wedge the relay: batches stuck waiting for confirms are given up and the backlog drains once the broker answers again', async () => {
    const { schema, pool, databaseUrl } = db;
    const exchange = uniqueName('crash_hung_x');
    await migrateOutbox({ database: databaseUrl, schema });
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange);
    const committed: WrittenMessage[] = [];
    const publishTimeoutMs = 1000;
    // Default maxInFlightBatches (2): the episodes below outnumber the relay's publishing slots.
    const { proxy, relay } = await proxiedRelay(schema, databaseUrl, {
      batchSize: 50,
      leaseMs: 5000,
      publishTimeoutMs,
      stopTimeoutMs: 2000,
    });
    await writeCommitted(
      pool,
      writer,
      Array.from({ length: 3000 }, (_, i) => ({ n: i, key: i % 7 === 0 ? null : (KEYS[i % KEYS.length] as string) })),
      100,
      committed,
    );
    await relay.start();

    const noProgress = async (what: string) => {
      const stats = await relay.stats();
      return new Error(
        `${what}: the broker is reachable again but the relay published nothing for ${WAIT_MS} ms ` +
          `(pending=${stats.pending}, due=${stats.due}, leased=${stats.leased})`,
      );
    };
    // More episodes than the relay has publishing slots (maxInFlightBatches defaults to 2).
    const episodes = 4;
    for (let episode = 0; episode < episodes; episode += 1) {
      const before = collector.messages.length;
      try {
        await waitUntil('publishes to flow', async () => collector.messages.length > before + 50, {
          timeoutMs: WAIT_MS,
          intervalMs: 1,
        });
      } catch {
        throw await noProgress(`after ${episode} hung-connection episode(s)`);
      }
      // The broker stops answering mid-stream: a batch is left waiting for confirms ...
      proxy.stall();
      // ... well past publishTimeoutMs, so the relay gives that batch up ...
      await sleep(publishTimeoutMs * 3);
      // ... and then the dead connection is torn down (as a heartbeat timeout or TCP keepalive
      // would), and the broker is reachable again.
      proxy.cut();
      proxy.resume();
    }
    console.log(`[broker-outage/hung] episodes=${episodes} deliveriesAfterEpisodes=${collector.messages.length}`);

    try {
      await waitForIds(
        collector,
        committed.map((m) => m.id),
        WAIT_MS,
      );
    } catch (error) {
      throw await noProgress(`after ${episodes} hung-connection episodes, ${(error as Error).message}`);
    }
    await waitUntil('the backlog to drain', async () => (await relay.stats()).pending === 0, { timeoutMs: WAIT_MS });
    expect(await stopWithin(relay, WAIT_MS)).toBe('stopped');

    const { arrivals, lost } = report('hung', committed, collector.messages);
    expect(lost).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
  }, 120_000);

  it('relay.stop() resolves while the broker connection is hung', async () => {
    const { schema, pool, databaseUrl } = db;
    const exchange = uniqueName('crash_hung_stop_x');
    await migrateOutbox({ database: databaseUrl, schema });
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange);
    const committed: WrittenMessage[] = [];
    const { proxy, relay } = await proxiedRelay(schema, databaseUrl, { stopTimeoutMs: 2000 });
    await relay.start();
    await writeCommitted(
      pool,
      writer,
      Array.from({ length: 10 }, (_, n) => ({ n, key: null })),
      10,
      committed,
    );
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      WAIT_MS,
    );
    await waitUntil('the outbox to drain', async () => (await relay.stats()).pending === 0, { timeoutMs: WAIT_MS });

    // The broker stops answering while the relay is idle; then the application shuts down.
    proxy.stall();
    // The guard is far above stopTimeoutMs + publishTimeoutMs: it only tells "slow" from "never".
    const outcome = await stopWithin(relay, WAIT_MS);
    console.log(`[broker-outage/hung-stop] stop() with a hung broker connection: ${outcome}`);
    expect(outcome).toBe('stopped');
  }, 90_000);
});
