import { randomUUID } from 'node:crypto';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
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
} from '../../../../test-support/index.js';
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

const WAIT_MS = 45_000;

const db = useTestSchema('inbox_concurrent');
const cleanup = useCleanup();
const broker = useAmqp();

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
  await createEffectsTable(db.pool, db.schema);
});

interface Instance {
  name: string;
  consumer: InboxConsumer;
  /** Ids whose handler this instance started (a handler that later rolled back would show here too). */
  started: string[];
}

function instance(
  name: string,
  group: string,
  exchange: string,
  options: { concurrency: number; prefetch: number; holdMs: number; hold?: () => Promise<void> },
): Instance {
  const started: string[] = [];
  const consumer = createConsumer({
    group,
    // A URL, so the pool's backends carry the application name `txbox-inbox <group>`.
    database: db.databaseUrl,
    amqp: testAmqpUrl(),
    schema: db.schema,
    exchange,
    concurrency: options.concurrency,
    prefetch: options.prefetch,
    retention: { intervalMs: 0 },
    handlers: [
      defineHandler(CrashApplied, async (_payload, ctx) => {
        started.push(ctx.envelope.id);
        await ctx.client.query(INSERT_EFFECT(effectsTable(db.schema)), [ctx.envelope.id, name]);
        // Keep the transaction (and its uncommitted inbox record) open so the other copy arrives meanwhile.
        await sleep(options.holdMs);
        if (options.hold) await options.hold();
      }),
    ],
  });
  cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
  cleanup.defer(() => consumer.stop());
  return { name, consumer, started };
}

/** Backends of the group's pools waiting on a row/transaction lock in the inbox insert. */
async function inboxLockWaiters(group: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = $1 AND wait_event_type = 'Lock'
       AND query LIKE '%ON CONFLICT (consumer_group, message_id) DO NOTHING%'`,
    [`txbox-inbox ${group}`],
  );
  return rows[0]?.n ?? 0;
}

async function settled(instances: Instance[], expected: number): Promise<void> {
  await waitUntil(
    `${expected} deliveries to be settled`,
    async () => {
      let total = 0;
      for (const { consumer } of instances) {
        const s = await consumer.stats();
        total += s.processed + s.duplicatesSkipped + s.retried + s.deadLettered;
      }
      return total >= expected;
    },
    { timeoutMs: WAIT_MS },
  );
}

async function totals(instances: Instance[]) {
  const all = await Promise.all(instances.map(({ consumer }) => consumer.stats()));
  return {
    per: all.map((s) => ({ processed: s.processed, duplicatesSkipped: s.duplicatesSkipped })),
    processed: all.reduce((n, s) => n + s.processed, 0),
    duplicatesSkipped: all.reduce((n, s) => n + s.duplicatesSkipped, 0),
    retried: all.reduce((n, s) => n + s.retried, 0),
    deadLettered: all.reduce((n, s) => n + s.deadLettered, 0),
  };
}

describe('concurrent duplicates across consumer instances of one group', () => {
  it('two consumer instances receiving the same id at the same moment apply it once (the second waits on the primary key, then skips)', async () => {
    const group = uniqueName('inbox_dup_g');
    const exchange = uniqueName('inbox_dup_x');
    // The first handler holds its transaction ~500 ms, and then until the test has seen the other
    // instance's inbox insert blocked on the uncommitted primary key (or 20 s passed).
    let sawWaiter = false;
    const hold = async (): Promise<void> => {
      await waitUntil('a lock waiter', async () => (sawWaiter ||= (await inboxLockWaiters(group)) > 0), {
        timeoutMs: 20_000,
      }).catch(() => {});
    };
    const a = instance('a', group, exchange, { concurrency: 1, prefetch: 1, holdMs: 500, hold });
    const b = instance('b', group, exchange, { concurrency: 1, prefetch: 1, holdMs: 500, hold });
    await Promise.all([a.consumer.start(), b.consumer.start()]);

    const publisher = await openPublisher(broker.connection);
    cleanup.defer(() => publisher.close());
    const id = randomUUID();
    // Back to back: with prefetch 1 the instance holding the first copy unacknowledged cannot
    // take the second, so the broker hands it to the other instance.
    publishRaw(publisher, exchange, id, 1);
    publishRaw(publisher, exchange, id, 1);
    await publisher.waitForConfirms();

    await settled([a, b], 2);
    const t = await totals([a, b]);
    expect(t).toMatchObject({ processed: 1, duplicatesSkipped: 1, retried: 0, deadLettered: 0 });
    // One copy each: one instance processed it, the other skipped it.
    expect(t.per).toEqual(
      expect.arrayContaining([
        { processed: 1, duplicatesSkipped: 0 },
        { processed: 0, duplicatesSkipped: 1 },
      ]),
    );
    // The transactions overlapped: the second insert waited on the first one's primary key.
    expect(sawWaiter).toBe(true);
    // The handler ran once in all (the skipped copy never reached it), and its effect exists once.
    expect([...a.started, ...b.started]).toEqual([id]);
    expect(Object.fromEntries(await effectCounts(db.pool, db.schema))).toEqual({ [id]: 1 });
    expect(await inboxRecords(db.pool, db.schema, group, id)).toBe(1);
  });

  it('20 ids each delivered twice, interleaved across two instances with concurrency 4, are each applied exactly once', async () => {
    const group = uniqueName('inbox_dup_g');
    const exchange = uniqueName('inbox_dup_x');
    const a = instance('a', group, exchange, { concurrency: 4, prefetch: 4, holdMs: 500 });
    const b = instance('b', group, exchange, { concurrency: 4, prefetch: 4, holdMs: 500 });
    await Promise.all([a.consumer.start(), b.consumer.start()]);
    // This test's effects only (the table is shared with the previous test of the file).
    await db.pool.query(`TRUNCATE ${effectsTable(db.schema)}`);

    const publisher = await openPublisher(broker.connection);
    cleanup.defer(() => publisher.close());
    const ids = Array.from({ length: 20 }, () => randomUUID());
    // Each copy right after the other: round-robin dispatch sends the two copies of an id to
    // different instances, while each instance runs up to 4 handlers of different ids at once.
    ids.forEach((id, n) => {
      publishRaw(publisher, exchange, id, n);
      publishRaw(publisher, exchange, id, n);
    });
    await publisher.waitForConfirms();

    await settled([a, b], 40);
    const t = await totals([a, b]);
    expect(t).toMatchObject({ processed: 20, duplicatesSkipped: 20, retried: 0, deadLettered: 0 });
    expect(await totalEffects(db.pool, db.schema)).toBe(20);
    const counts = await effectCounts(db.pool, db.schema);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await inboxRecords(db.pool, db.schema, group)).toBe(20);
  });
});
