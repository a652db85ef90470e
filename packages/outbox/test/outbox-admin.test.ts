// The public admin object: what the Nest admin service, the health indicator and operators' scripts
// use instead of table names and SQL.
import { createOutbox, createOutboxAdmin, createRelay, migrateOutbox } from '@txbox/outbox';
import { beforeAll, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useTestSchema } from '../../../test-support/index.js';
import { inTransaction, OrderPlaced } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_admin');

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});

it('an admin from a URL reads the stats, lists and requeues dead letters; close() ends its own pool', async () => {
  const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange: uniqueName('nobody_listens') });
  const [deadId, waitingId] = await inTransaction(pool, (c) =>
    outbox.add(c, [
      OrderPlaced.create({ orderId: 'admin-1', totalCents: 1 }),
      OrderPlaced.create({ orderId: 'admin-2', totalCents: 1 }, { delayMs: 3_600_000 }),
    ]),
  );
  const relay = createRelay({
    database: pool,
    amqp: testAmqpUrl(),
    schema,
    listen: false,
    onUnroutable: 'dead-letter',
  });
  expect(await relay.runOnce()).toMatchObject({ deadLettered: 1 });
  await relay.stop();

  const admin = createOutboxAdmin({ database: databaseUrl, schema });
  expect(await admin.stats()).toMatchObject({ pending: 1, due: 0, leased: 0, deadLetters: 1 });
  const [dead] = await admin.deadLetters.list();
  expect(dead).toMatchObject({ id: deadId, reason: 'unroutable' });

  expect(await admin.deadLetters.requeue([deadId as string])).toEqual([deadId]);
  expect(await admin.stats()).toMatchObject({ pending: 2, due: 1, deadLetters: 0 });
  const { rows } = await pool.query(`SELECT id FROM "${schema}".outbox ORDER BY seq`);
  expect(rows.map((r) => r.id).sort()).toEqual([deadId, waitingId].sort());

  await admin.close();
  await admin.close();
  await expect(admin.stats()).rejects.toThrow();
});

it('refuses a schema name it cannot quote, and a list limit out of range', async () => {
  expect(() => createOutboxAdmin({ database: databaseUrl, schema: 'no"quotes' })).toThrow(/schema name/);
  const admin = createOutboxAdmin({ database: pool, schema });
  await expect(admin.deadLetters.list({ limit: 0 })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  await admin.close();
  // Not its pool: still usable after the admin is closed.
  expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
});
