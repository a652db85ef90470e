// OutboxAdmin.writtenTotal(): the counter the dashboard's write and publish rates come from.
import { createOutbox, createOutboxAdmin, migrateOutbox } from '@txbox/outbox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uniqueName, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_written');
const admin = createOutboxAdmin({ database: pool, schema });
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange: uniqueName('nobody') });
const orders = (n: number) =>
  Array.from({ length: n }, (_, i) => OrderPlaced.create({ orderId: `o-${i}`, totalCents: i }));

beforeAll(() => migrateOutbox({ database: databaseUrl, schema }));
afterAll(() => admin.close());

it('counts every message ever written, committed or rolled back, and only grows', async () => {
  expect(await admin.writtenTotal()).toBe(0);
  await inTransaction(pool, (tx) => outbox.add(tx, orders(3)));
  expect(await admin.writtenTotal()).toBe(3);
  await expect(
    inTransaction(pool, async (tx) => {
      await outbox.add(tx, orders(2));
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  // The identity handed its values out before the rollback: documented as counted.
  expect(await admin.writtenTotal()).toBe(5);
  await pool.query(`DELETE FROM "${schema}".outbox`);
  expect(await admin.writtenTotal()).toBe(5);
  expect((await admin.stats()).pending).toBe(0);
});
