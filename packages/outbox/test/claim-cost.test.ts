import { createOutbox, createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import { outboxSql, outboxTables } from '@txbox/outbox/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_claim_cost');
const tables = outboxTables(schema);

/** Shared buffers (pages) the claim touches, from EXPLAIN (ANALYZE, BUFFERS): a count, not a time. */
async function claimPages(batchSize: number): Promise<{ pages: number; claimed: number }> {
  const client = await pool.connect();
  try {
    await client.query(`BEGIN; ${outboxSql.claimLockSql(tables)}`);
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${outboxSql.claimBatchSql(tables)}`, [
      batchSize,
      'cost-probe',
      30_000,
    ]);
    await client.query('ROLLBACK');
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    const pages = plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    return { pages, claimed: plan['Actual Rows'] };
  } finally {
    client.release();
  }
}

async function insertRows(count: number, delayed: boolean) {
  // Straight into the table: the writer's validation is not what this test is about.
  await pool.query(
    `INSERT INTO "${schema}".outbox (id, type, version, exchange, routing_key, payload, available_at)
     SELECT gen_random_uuid(), 'bulk', 1, 'txbox.events', 'bulk', jsonb_build_object('i', g),
            CASE WHEN $2 THEN now() + interval '1 hour' ELSE now() - interval '1 second' END
     FROM generate_series(1, $1) g`,
    [count, delayed],
  );
  await pool.query(`ANALYZE "${schema}".outbox`);
}

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});

describe('the claim stays O(batch)', () => {
  it('reads about as many pages with 50,000 messages waiting as with 10, and with 50,000 delayed ones ahead', async () => {
    const outbox = createOutbox({ contracts: [OrderPlaced], schema, notify: false });
    await inTransaction(pool, (c) =>
      outbox.add(
        c,
        Array.from({ length: 10 }, (_, i) =>
          OrderPlaced.create({ orderId: `o-${i}`, totalCents: 1 }, { key: `k-${i % 3}` }),
        ),
      ),
    );
    const few = await claimPages(10);
    expect(few.claimed).toBe(10);

    // Delayed messages (a retry backoff after an outage, say) written before the due ones...
    await pool.query(`DELETE FROM "${schema}".outbox`);
    await insertRows(50_000, true);
    await inTransaction(pool, (c) =>
      outbox.add(
        c,
        Array.from({ length: 10 }, (_, i) =>
          OrderPlaced.create({ orderId: `o-${i}`, totalCents: 1 }, { key: `k-${i % 3}` }),
        ),
      ),
    );
    const behindDelayed = await claimPages(10);
    expect(behindDelayed.claimed).toBe(10);
    // ...and a large due backlog.
    await insertRows(50_000, false);
    const inBacklog = await claimPages(10);
    expect(inBacklog.claimed).toBe(10);

    // Pages, not time: a scan of 50,000 rows would read thousands of pages.
    expect(behindDelayed.pages).toBeLessThan(few.pages * 4 + 50);
    expect(inBacklog.pages).toBeLessThan(few.pages * 4 + 50);
  });
});

describe('claiming under a backlog', () => {
  const amqp = useAmqp();
  let relay: OutboxRelay | undefined;
  afterAll(async () => {
    await relay?.stop();
  });

  it('a key whose oldest message became due last is still claimed, in order (no livelock)', async () => {
    await pool.query(`DELETE FROM "${schema}".outbox`);
    const exchange = uniqueName('claim_order');
    const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange, notify: false });
    const collector = await amqp.bindCollector(exchange, '#');
    const KEYS = 5;
    const PER_KEY = 60;
    await inTransaction(pool, (c) =>
      outbox.add(
        c,
        Array.from({ length: KEYS * PER_KEY }, (_, i) =>
          OrderPlaced.create(
            { orderId: `k${i % KEYS}:${Math.floor(i / KEYS)}`, totalCents: 1 },
            { key: `k${i % KEYS}` },
          ),
        ),
      ),
    );
    // As after a failed publish: every key's oldest message is retried and due only now,
    // later than the newer messages of its key, which have been waiting since earlier.
    await pool.query(`UPDATE "${schema}".outbox SET available_at = now() - interval '1 minute'`);
    await pool.query(
      `UPDATE "${schema}".outbox SET available_at = now(), attempts = 1
       WHERE seq IN (SELECT min(seq) FROM "${schema}".outbox GROUP BY ordering_key)`,
    );
    relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false, batchSize: 20 });
    let published = 0;
    for (let round = 0; round < 100 && published < KEYS * PER_KEY; round++)
      published += (await relay.runOnce()).published;
    expect(published).toBe(KEYS * PER_KEY);
    const arrived = await collector.waitFor(KEYS * PER_KEY);
    const perKey = new Map<string, number[]>();
    for (const m of arrived) {
      const [key, n] = String(JSON.parse(m.content.toString()).orderId).split(':');
      perKey.set(key as string, [...(perKey.get(key as string) ?? []), Number(n)]);
    }
    for (const [key, ns] of perKey) expect(ns, key).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
  });
});
