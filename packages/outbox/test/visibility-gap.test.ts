import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_gap');
const amqp = useAmqp();
const exchange = uniqueName('gap_events');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false });

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});
afterAll(async () => {
  await relay.stop();
});

describe('no visibility gap', () => {
  it('a transaction holding a lower id that commits after later ones is still published', async () => {
    const collector = await amqp.bindCollector(exchange, '#');
    // The slow transaction inserts first, so its row gets the lower seq, and stays open.
    const slow = await pool.connect();
    await slow.query('BEGIN');
    const slowId = await outbox.add(slow, OrderPlaced.create({ orderId: 'slow', totalCents: 1 }));
    const { rows } = await slow.query(`SELECT seq FROM "${schema}".outbox WHERE id = $1`, [slowId]);
    const slowSeq = Number(rows[0].seq);

    const fastIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      fastIds.push(
        await inTransaction(pool, (c) => outbox.add(c, OrderPlaced.create({ orderId: `fast-${i}`, totalCents: i }))),
      );
    }
    const fastSeqs = await pool.query(`SELECT seq FROM "${schema}".outbox WHERE id = ANY($1::uuid[])`, [fastIds]);
    expect(fastSeqs.rows.every((r) => Number(r.seq) > slowSeq)).toBe(true);

    // The relay publishes the later, committed ones while the lower seq is invisible.
    expect((await relay.runOnce()).published).toBe(5);
    await collector.waitFor(5);

    await slow.query('COMMIT');
    slow.release();
    expect((await relay.runOnce()).published).toBe(1);
    const all = await collector.waitFor(6);
    expect(all.map((m) => m.properties.messageId)).toContain(slowId);
  });
});
