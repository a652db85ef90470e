import { fileURLToPath } from 'node:url';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { migrateOutbox } from '@txbox/outbox';
import type { ConsumeMessage } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  type RunningChild,
  runChild,
  sleep,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import {
  arrivalsOf,
  CrashEvent,
  crashWriter,
  duplicateCounts,
  outboxCount,
  perKeyOrderViolation,
  type WrittenMessage,
  waitForIds,
  writeCommitted,
} from '../crash/crash-support.js';
import { useWalSlot, walRelay } from './wal-support.js';

const CHILD = fileURLToPath(new URL('../crash/relay-child.mjs', import.meta.url));
const WAIT_MS = 30_000;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];

const { schema, pool, databaseUrl } = useTestSchema('wal_crash');
const wal = useWalSlot(databaseUrl, pool);
const broker = useAmqp();
const cleanup = useCleanup();

/** Commits transactions of 4 messages (keyed, one in 8 unkeyed) until `until()`; returns how many. */
async function writeWhile(writer: ReturnType<typeof crashWriter>, committed: WrittenMessage[], until: () => boolean) {
  let n = committed.length;
  while (!until()) {
    const batch = Array.from({ length: 4 }, () => {
      n += 1;
      return { n, key: n % 8 === 0 ? null : (KEYS[n % KEYS.length] as string) };
    });
    await writeCommitted(pool, writer, batch, 4, committed);
    await sleep(2);
  }
}

/** Every delivery of an id is the same message (same id, body and key): the inbox, keyed by id, drops the repeats. */
function repeatsDiffering(messages: readonly ConsumeMessage[]): string[] {
  const first = new Map<string, string>();
  const differing: string[] = [];
  for (const m of messages) {
    const id = String(m.properties.messageId);
    const fingerprint = `${m.content.toString('base64')}|${String(m.properties.headers?.['x-txbox-key'])}`;
    const seen = first.get(id);
    if (seen === undefined) first.set(id, fingerprint);
    else if (seen !== fingerprint) differing.push(id);
  }
  return differing;
}

function walChild(relayId: string, amqpUrl: string): RunningChild {
  const child = runChild(CHILD, [], {
    TXBOX_RELAY_MODE: 'wal',
    TXBOX_SLOT: wal.slot,
    TXBOX_DATABASE_URL: databaseUrl,
    TXBOX_AMQP_URL: amqpUrl,
    TXBOX_SCHEMA: schema,
    TXBOX_RELAY_ID: relayId,
    TXBOX_BATCH_SIZE: '50',
    TXBOX_POLL_INTERVAL_MS: '100',
  });
  cleanup.defer(() => child.kill('SIGKILL'));
  return child;
}

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  await wal.create();
});

describe('WAL mode under crashes', () => {
  it('SIGKILL of the streaming relay mid-stream: a standby takes the slot over, nothing is lost, repeats are exact duplicates, per-key order holds', async () => {
    const exchange = uniqueName('wal_kill');
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange, 'wal');
    const relays = [walChild('wal-a', testAmqpUrl()), walChild('wal-b', testAmqpUrl())];
    await Promise.all(relays.map((r) => r.waitReady(WAIT_MS)));
    const streaming = await Promise.race(relays.map((r) => r.waitForLine('STREAMING', WAIT_MS).then(() => r)));
    const standby = relays.find((r) => r !== streaming) as RunningChild;

    const committed: WrittenMessage[] = [];
    let stopWriting = false;
    const writing = writeWhile(writer, committed, () => stopWriting);
    // Kill while messages stream: some are on the broker, later ones are still being read.
    await waitUntil('messages to stream', async () => collector.messages.length >= 200, {
      timeoutMs: WAIT_MS,
      intervalMs: 5,
    });
    await streaming.kill('SIGKILL');
    const killedAt = collector.messages.length;
    await standby.waitForLine('STREAMING', WAIT_MS);
    // Keep writing across the takeover, then stop.
    await waitUntil('the standby to publish', async () => collector.messages.length > killedAt + 100, {
      timeoutMs: WAIT_MS,
    });
    stopWriting = true;
    await writing;

    const ids = committed.map((m) => m.id);
    await waitForIds(collector, ids, WAIT_MS);
    await standby.kill('SIGTERM');
    await collector.flush();
    const arrivals = arrivalsOf(collector.messages);
    const arrived = new Set(arrivals.map((a) => a.id));
    const duplicates = duplicateCounts(arrivals);
    console.log(
      `[wal-sigkill] written=${ids.length} deliveries=${arrivals.length} arrivedBeforeKill=${killedAt} duplicatedIds=${duplicates.size}`,
    );
    expect(ids.filter((id) => !arrived.has(id))).toEqual([]);
    expect([...arrived].filter((id) => !ids.includes(id))).toEqual([]);
    expect(repeatsDiffering(collector.messages)).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
    expect(await outboxCount(pool, schema)).toBe(0);
  });

  it('a relay killed after the broker confirmed, before the slot moved on: the message is published again and the inbox drops the duplicate', async () => {
    await migrateInbox({ database: databaseUrl, schema });
    const exchange = uniqueName('wal_dup');
    const writer = crashWriter(schema, exchange, 'wal');
    const handled: string[] = [];
    await pool.query(`CREATE TABLE "${schema}".effects (message_id uuid NOT NULL)`);
    const consumer = createConsumer({
      group: uniqueName('wal_dup_group'),
      database: databaseUrl,
      amqp: testAmqpUrl(),
      schema,
      exchange,
      handlers: [
        defineHandler(CrashEvent, async (_payload, ctx) => {
          handled.push(ctx.envelope.id);
          await ctx.client.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [ctx.envelope.id]);
        }),
      ],
    });
    cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
    cleanup.defer(() => consumer.stop());
    await consumer.start();
    const doomed = walChild('wal-doomed', testAmqpUrl());
    await doomed.waitForLine('STREAMING', WAIT_MS);

    // The batch's second message is delayed, so it is parked; the table is locked, so parking
    // (and with it the batch, and the slot's confirmation) waits after the first was confirmed.
    const lock = await pool.connect();
    await lock.query('BEGIN');
    await lock.query(`LOCK TABLE "${schema}".outbox IN EXCLUSIVE MODE`);
    let confirmedId: string | undefined;
    try {
      await writeCommitted(pool, writer, [{ n: 1, key: 'dup' }], 1);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        [confirmedId] = await writer.add(client, [
          CrashEvent.create({ n: 2, key: 'dup', pad: '' }, { key: 'dup' }),
          CrashEvent.create({ n: 3, key: null, pad: '' }, { delayMs: 1 }),
        ]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await waitUntil('the first messages to be handled', async () => handled.length >= 2, { timeoutMs: WAIT_MS });
      await waitUntil(
        'the relay to wait to park the delayed message',
        async () => {
          const { rows } = await pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "${schema}"."outbox"%'`,
          );
          return rows[0].n > 0;
        },
        { timeoutMs: WAIT_MS },
      );
      await doomed.kill('SIGKILL');
    } finally {
      await lock.query('COMMIT');
      lock.release();
    }
    const successor = walChild('wal-successor', testAmqpUrl());
    await successor.waitForLine('STREAMING', WAIT_MS);
    await waitUntil('the delayed message to be handled', async () => handled.length >= 3, { timeoutMs: WAIT_MS });
    await waitUntil('the repeat to reach the inbox', async () => (await consumer.stats()).duplicatesSkipped >= 1, {
      timeoutMs: WAIT_MS,
    });
    await successor.kill('SIGTERM');
    const { rows } = await pool.query(`SELECT message_id, count(*)::int AS n FROM "${schema}".effects GROUP BY 1`);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    // Confirmed by the broker before the kill, published again after it, handled once.
    expect(handled.filter((id) => id === confirmedId)).toHaveLength(1);
  });

  it('the replication connection is terminated mid-stream (as by a PostgreSQL restart): the relay streams again from the slot and loses nothing', async () => {
    const exchange = uniqueName('wal_term');
    const collector = await broker.bindCollector(exchange, '#');
    const writer = crashWriter(schema, exchange, 'wal');
    const relay = walRelay({ database: databaseUrl, schema, slot: wal.slot });
    cleanup.defer(() => relay.stop());
    await relay.start();
    await waitUntil('the relay to stream', async () => relay.isStreaming, { timeoutMs: WAIT_MS });
    const committed: WrittenMessage[] = [];
    let stopWriting = false;
    const writing = writeWhile(writer, committed, () => stopWriting);
    await waitUntil('messages to stream', async () => collector.messages.length >= 100, { timeoutMs: WAIT_MS });
    // The walsender of this file's own slot, i.e. this test's relay: no other session's backend.
    const { rows } = await pool.query(
      'SELECT pg_terminate_backend(active_pid) AS terminated FROM pg_replication_slots WHERE slot_name = $1 AND active',
      [wal.slot],
    );
    expect(rows).toEqual([{ terminated: true }]);
    const terminatedAt = collector.messages.length;
    await waitUntil('the relay to publish again', async () => collector.messages.length > terminatedAt + 100, {
      timeoutMs: WAIT_MS,
    });
    stopWriting = true;
    await writing;
    await waitForIds(
      collector,
      committed.map((m) => m.id),
      WAIT_MS,
    );
    await relay.stop();
    await collector.flush();
    expect(repeatsDiffering(collector.messages)).toEqual([]);
    expect(perKeyOrderViolation(committed, arrivalsOf(collector.messages))).toBeNull();
  });
});
