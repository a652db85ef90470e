// Found by the chaos suite: a relay connection terminated while checked out (pg_terminate_backend,
// a failover) must not crash the process with an unhandled 'error' event of the pg client; the
// relay backs off, claims again and publishes.
import { createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
import { outboxSql, outboxTables } from '@txbox/outbox/internal';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../../test-support/index.js';
import { claimsWaiting, crashWriter, holdClaimLock, writeCommitted } from './crash-support.js';

const db = useTestSchema('outbox_backend_terminated');
const broker = useAmqp();
let relay: OutboxRelay | undefined;
let relayPool: pg.Pool | undefined;
const uncaught: unknown[] = [];
const trap = (error: unknown) => uncaught.push(error);

beforeAll(async () => {
  await migrateOutbox({ database: db.databaseUrl, schema: db.schema });
  process.on('uncaughtException', trap);
});
afterAll(async () => {
  process.off('uncaughtException', trap);
  await relay?.stop();
  await relayPool?.end();
});

it('survives its claim connection being terminated and still publishes', async () => {
  const exchange = uniqueName('outbox_bt_x');
  const collector = await broker.bindCollector(exchange);
  const lock = await holdClaimLock(db.pool, outboxSql.claimLockSql(outboxTables(db.schema)));
  relay = createRelay({ database: db.databaseUrl, amqp: testAmqpUrl(), schema: db.schema, pollIntervalMs: 50 });
  await relay.start();
  try {
    // Something to claim (an idle relay only probes, without the lock, when nothing is due).
    await writeCommitted(db.pool, crashWriter(db.schema, exchange), [{ n: 0, key: null }], 1);
    // The relay's claim now waits for the lock on a checked-out client: terminate that backend.
    await waitUntil('the relay claim waiting for the lock', async () => (await claimsWaiting(db.pool, db.schema)) > 0, {
      timeoutMs: 10_000,
    });
    const { rows } = await db.pool.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND position($1 in query) > 0`,
      [`"${db.schema}"."outbox"`],
    );
    expect(rows[0].n).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await lock.release();
  }
  await writeCommitted(db.pool, crashWriter(db.schema, exchange), [{ n: 1, key: null }], 1);
  await collector.waitFor(2, 15_000);
  expect(uncaught).toEqual([]);
  expect(relay.isRunning).toBe(true);
});

it('survives its connections being terminated at random points of the claim/settle cycle', async () => {
  await relay?.stop();
  const exchange = uniqueName('outbox_bt_x2');
  const collector = await broker.bindCollector(exchange);
  // A pool of its own, with a name no other test uses, so only this relay's backends are hit.
  const applicationName = uniqueName('relay_bt');
  relayPool = new pg.Pool({ connectionString: db.databaseUrl, application_name: applicationName, max: 4 });
  relayPool.on('error', () => {});
  relay = createRelay({
    database: relayPool,
    amqp: testAmqpUrl(),
    schema: db.schema,
    pollIntervalMs: 10,
    listen: false,
  });
  await relay.start();
  const writer = crashWriter(db.schema, exchange);
  const deadline = Date.now() + 6000;
  let n = 0;
  while (Date.now() < deadline && uncaught.length === 0) {
    await writeCommitted(db.pool, writer, [{ n: ++n, key: null }], 1);
    await db.pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [applicationName],
    );
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 15)));
  }
  expect(uncaught.map((e) => (e as Error).stack)).toEqual([]);
  await collector.waitFor(n, 30_000);
  expect(relay.isRunning).toBe(true);
});
