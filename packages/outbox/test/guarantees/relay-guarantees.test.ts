// The outbox's guarantees, each proven in both relay modes (table and WAL) by the same test.
import { describe, expect, it } from 'vitest';
import {
  sleep,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import {
  arrivalsOf,
  CrashEvent,
  outboxCount,
  perKeyOrderViolation,
  type WrittenMessage,
  waitForIds,
  writeCommitted,
} from '../crash/crash-support.js';
import { inTransaction, OrderPlaced } from '../fixtures.js';
import { RELAY_MODES, useRelayMode } from './relay-modes.js';

const broker = useAmqp();
const cleanup = useCleanup();
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];

describe.each(RELAY_MODES)('%s mode', (mode) => {
  const db = useTestSchema(`guarantees_${mode}`);
  const { pool, schema } = db;
  const harness = useRelayMode(mode, db);

  it('a committed transaction’s messages are published with the documented properties; a rolled-back one’s never', async () => {
    const exchange = uniqueName('g_commit');
    const outbox = harness.writer(exchange, [OrderPlaced]);
    const collector = await broker.bindCollector(exchange, '#');
    await harness.startRelay();
    const client = await pool.connect();
    await client.query('BEGIN');
    await outbox.add(client, OrderPlaced.create({ orderId: 'rolled-back', totalCents: 1 }, { key: 'order:rb' }));
    await client.query('ROLLBACK');
    client.release();
    const id = await inTransaction(pool, (c) =>
      outbox.add(
        c,
        OrderPlaced.create(
          { orderId: 'o-1', totalCents: 1250 },
          {
            key: 'order:o-1',
            correlationId: 'corr-1',
            causationId: 'cause-1',
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'vendor=1',
            headers: { tenant: 'acme' },
          },
        ),
      ),
    );
    const [placed] = await collector.waitFor(1, 20_000);
    expect(JSON.parse(placed?.content.toString() ?? '')).toEqual({ orderId: 'o-1', totalCents: 1250 });
    expect(placed?.fields.routingKey).toBe('orders.order-placed');
    expect(placed?.properties).toMatchObject({
      messageId: id,
      type: 'orders.order-placed',
      contentType: 'application/json',
      correlationId: 'corr-1',
      deliveryMode: 2,
    });
    expect(placed?.properties.headers).toMatchObject({
      'x-txbox-version': 1,
      'x-txbox-key': 'order:o-1',
      'x-txbox-causation-id': 'cause-1',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=1',
      tenant: 'acme',
    });
    expect(await collector.flush()).toHaveLength(1);
    await waitUntil('the outbox table to be empty', async () => (await outboxCount(pool, schema)) === 0, {
      timeoutMs: 20_000,
    });
  });

  // Commit order is the order of the commit records; each lane owns its keys, so the order in
  // which its COMMITs return is that order (two writers racing on one key in WAL mode could see
  // their acknowledgements in either order: it takes no lock).
  it('messages of one key arrive in commit order, across concurrent writers', async () => {
    const exchange = uniqueName('g_order');
    const outbox = harness.writer(exchange, [CrashEvent]);
    const collector = await broker.bindCollector(exchange, '#');
    await harness.startRelay();
    const committed: WrittenMessage[] = [];
    await Promise.all(
      [0, 1, 2].map((lane) =>
        writeCommitted(
          pool,
          outbox,
          Array.from({ length: 60 }, (_, i) => ({
            n: lane * 100 + i,
            key: i % 5 === 4 ? null : `lane${lane}-${i % 3}`,
          })),
          3,
          committed,
        ),
      ),
    );
    await collector.waitFor(committed.length, 30_000);
    expect(perKeyOrderViolation(committed, arrivalsOf(collector.messages))).toBeNull();
  });

  // What this does not claim: strict order behind a message that fails more than once. Once it is
  // due again, the claim hands it out with the later messages of its key in one batch (both
  // modes: WAL mode parks them in the table the claim reads), and if it fails again the broker
  // has confirmed those already. See the README ("Order and retries").
  it('a retrying message holds back only its own key: the others go on while it fails, and nothing is lost', async () => {
    const exchange = uniqueName('g_retry');
    const outbox = harness.writer(exchange, [CrashEvent]);
    const collector = await broker.bindCollector(exchange, 'ok.#');
    const relay = await harness.startRelay({ retry: { maxAttempts: 100, baseDelayMs: 100, maxDelayMs: 200 } });
    const write = (key: string, n: number, routingKey: string) =>
      inTransaction(pool, (c) => outbox.add(c, CrashEvent.create({ n, key, pad: '' }, { key, routingKey })));
    // No queue is bound for 'held.a' yet: unroutable, retried (onUnroutable 'retry').
    const held = await write('a', 1, 'held.a');
    // Failed (table: retrying; WAL: parked) before the next message of its key is written: one
    // batch would publish both at once, and what the broker confirmed in it is out already.
    await waitUntil(
      'the first attempt to fail',
      async () => (await relay.stats()).pending === 1 && (await attempts(held)) > 0,
      {
        timeoutMs: 20_000,
      },
    );
    const behind = await write('a', 2, 'ok.a');
    const others = [];
    for (let n = 1; n <= 5; n += 1) others.push(await write('b', n, 'ok.b'));
    await waitForIds(collector, others, 20_000);
    // Every message of the other key arrived while the held one still failed.
    expect(collector.messages.map((m) => m.properties.messageId).filter((id) => id !== behind)).toEqual(others);
    expect(await attempts(held)).toBeGreaterThan(0);

    await broker.channel.bindQueue(collector.queue, exchange, 'held.#');
    await waitForIds(collector, [held, behind, ...others], 20_000);
    await waitUntil('the held messages to be published', async () => (await relay.stats()).pending === 0, {
      timeoutMs: 20_000,
    });
    const later = await write('a', 3, 'ok.a');
    await collector.waitFor(8, 20_000);
    expect(collector.messages.at(-1)?.properties.messageId).toBe(later);
  });

  it('broker unreachable: writes go on, and everything drains in per-key order once it is back', async () => {
    const exchange = uniqueName('g_outage');
    const outbox = harness.writer(exchange, [CrashEvent]);
    const collector = await broker.bindCollector(exchange, '#');
    const target = new URL(testAmqpUrl());
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
    cleanup.defer(() => proxy.close());
    cleanup.defer(() => proxy.restore());
    await harness.startRelay({ amqp: proxy.url(testAmqpUrl()) });

    const committed: WrittenMessage[] = [];
    await writeCommitted(
      pool,
      outbox,
      KEYS.map((key, n) => ({ n, key })),
      5,
      committed,
    );
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      20_000,
    );

    proxy.down();
    await writeCommitted(
      pool,
      outbox,
      Array.from({ length: 200 }, (_, i) => ({
        n: 100 + i,
        key: i % 9 === 0 ? null : (KEYS[i % KEYS.length] as string),
      })),
      4,
      committed,
    );
    expect(committed).toHaveLength(205);
    await sleep(1000);
    // The backlog waits where the mode keeps it: rows in the table, or WAL the slot holds (nothing parked).
    const { rows } = await pool.query(
      `SELECT (SELECT count(*)::int FROM "${schema}".outbox) AS rows,
        (SELECT count(*)::int FROM pg_replication_slots WHERE database = current_database()
           AND slot_name = ANY($1) AND confirmed_flush_lsn < pg_current_wal_lsn()) AS behind`,
      [[harness.slot ?? '']],
    );
    if (mode === 'wal') expect(rows[0]).toEqual({ rows: 0, behind: 1 });
    else expect(rows[0].rows).toBeGreaterThanOrEqual(200);

    proxy.restore();
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      30_000,
    );
    await waitUntil('the outbox table to be empty', async () => (await outboxCount(pool, schema)) === 0, {
      timeoutMs: 30_000,
    });
    await collector.flush();
    expect(perKeyOrderViolation(committed, arrivalsOf(collector.messages))).toBeNull();
  });

  async function attempts(id: string): Promise<number> {
    const { rows } = await pool.query(`SELECT attempts FROM "${schema}".outbox WHERE id = $1`, [id]);
    return rows[0]?.attempts ?? 0;
  }
});
