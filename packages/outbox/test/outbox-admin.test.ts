// The public admin object: what the Nest admin service, the health indicator and operators' scripts
// use instead of table names and SQL.
import { createOutbox, createOutboxAdmin, createRelay, migrateOutbox } from '@txbox/outbox';
import { beforeAll, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { inTransaction, OrderCancelled, OrderPlaced, outboxRowCount } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_admin');
// The selection test counts every dead letter: a schema of its own.
const filtered = useTestSchema('outbox_admin_filters');

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  await migrateOutbox({ database: databaseUrl, schema: filtered.schema });
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

it('selects dead letters by ids, type, key and time range; requeue and purge refuse an empty selection', async () => {
  const { schema, pool } = filtered;
  const outbox = createOutbox({
    contracts: [OrderPlaced, OrderCancelled],
    schema,
    exchange: uniqueName('nobody_listens'),
  });
  const [placedA, placedB, cancelled] = await inTransaction(pool, (c) =>
    outbox.add(c, [
      OrderPlaced.create({ orderId: 'f-1', totalCents: 1 }, { key: 'order-1' }),
      OrderPlaced.create({ orderId: 'f-2', totalCents: 1 }, { key: 'order-2' }),
      OrderCancelled.create({ orderId: 'f-1', reason: 'x' }, { key: 'order-1' }),
    ]),
  );
  const relay = createRelay({
    database: pool,
    amqp: testAmqpUrl(),
    schema,
    listen: false,
    onUnroutable: 'dead-letter',
  });
  await waitUntil('all three to be dead-lettered', async () => {
    await relay.runOnce();
    return (await outboxRowCount(pool, schema)) === 0;
  });
  await relay.stop();
  const admin = createOutboxAdmin({ database: pool, schema });
  const ids = async (filter: Parameters<typeof admin.deadLetters.list>[0]) =>
    (await admin.deadLetters.list(filter)).map((d) => d.id).sort();

  expect(await ids({ type: OrderPlaced.type })).toEqual([placedA, placedB].sort());
  expect(await ids({ key: 'order-1' })).toEqual([placedA, cancelled].sort());
  expect(await ids({ type: OrderPlaced.type, key: 'order-1' })).toEqual([placedA]);
  expect(await ids({ ids: [cancelled as string] })).toEqual([cancelled]);
  expect(await ids({ since: new Date(Date.now() + 60_000) })).toEqual([]);
  expect(await ids({ until: new Date(Date.now() + 60_000), since: '2000-01-01T00:00:00Z' })).toHaveLength(3);
  expect(await admin.deadLetters.count({ key: 'order-2' })).toBe(1);
  expect(await admin.deadLetters.show(placedB as string)).toMatchObject({ id: placedB, orderingKey: 'order-2' });
  expect(await admin.deadLetters.show('0190a000-0000-7000-8000-000000000000')).toBeUndefined();

  await expect(admin.deadLetters.requeue({})).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  await expect(admin.deadLetters.purge({})).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  await expect(admin.deadLetters.list({ ids: ['nope'] })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  await expect(admin.deadLetters.list({ since: 'yesterday' })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
  await expect(admin.deadLetters.list({ bogus: 1 } as never)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });

  expect(await admin.deadLetters.requeue({ type: OrderCancelled.type })).toEqual([cancelled]);
  expect(await admin.deadLetters.purge({ key: 'order-2' })).toBe(1);
  expect(await ids({})).toEqual([placedA]);
  const status = await admin.status();
  expect(status.migrations).toMatchObject({ component: 'outbox', schema, pending: [] });
  expect(status.stats).toMatchObject({ pending: 1, deadLetters: 1 });
  expect(await admin.deadLetters.purge('all')).toBe(1);
  await admin.close();
});

it('status of a schema not migrated yet reports the pending migrations and no stats', async () => {
  const admin = createOutboxAdmin({ database: pool, schema: uniqueName('unmigrated') });
  const status = await admin.status();
  expect(status.migrations.current).toBe(0);
  expect(status.migrations.pending.length).toBe(status.migrations.latest);
  expect(status.stats).toBeUndefined();
  await admin.close();
});
