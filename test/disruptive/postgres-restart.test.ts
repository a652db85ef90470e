// PostgreSQL restarted (pg_ctlcluster … restart) while messages flow: the writer's transactions
// fail during the restart and are retried by the producer, as an application would; the relay
// (claim pool and LISTEN connection) and the consumer (handler pool) come back by themselves;
// every message committed is applied exactly once, none is lost. Both relay modes: the table
// relay, and the WAL relay (its replication connection drops with the server and streams again
// from the slot, which survives the restart). This restarts the PostgreSQL every other test uses,
// so it runs in its own vitest project, after all the others.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, createWalRelay, createWalSlot, dropWalSlot, migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  sleep,
  testAmqpUrl,
  testDatabaseUrl,
  uniqueName,
  useAmqp,
  waitUntil,
} from '../../test-support/index.js';

const Tick = defineMessage({ type: 'restart.tick', version: 1, schema: z.object({ n: z.number().int() }) });
const schemas: string[] = [];
const slot = uniqueName('restart_wal_slot');
const amqp = useAmqp();
const admin = resilientPool(2);

/**
 * A pool whose clients survive the restart: the server's FATAL reaches a client as an 'error'
 * event, which crashes the process when no listener is attached (pg-pool listens only while a
 * client is idle). Every client gets its own listener; the query in flight still rejects.
 */
function resilientPool(max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max });
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/**
 * The cluster behind TXBOX_TEST_DATABASE_URL: `main` unless TXBOX_TEST_PG_CLUSTER names another.
 * Asynchronous, so the relay in this process keeps answering while the server shuts down: a
 * walsender waits for its client to confirm what it sent (a blocked WAL relay would hold the
 * shutdown for wal_sender_timeout).
 */
async function restartPostgres(): Promise<void> {
  const version = readdirSync('/etc/postgresql')
    .sort((a, b) => Number(a) - Number(b))
    .at(-1) as string;
  const cluster = process.env.TXBOX_TEST_PG_CLUSTER || 'main';
  await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, cluster, 'restart']);
}

async function postgresAcceptsQueries(): Promise<boolean> {
  try {
    await admin.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  await waitUntil('PostgreSQL to accept queries', postgresAcceptsQueries, { timeoutMs: 60_000, intervalMs: 200 });
  // An abandoned slot would hold WAL on the server's disk.
  await dropWalSlot({ database: testDatabaseUrl(), slot }).catch(() => {});
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await admin.end();
});

describe.each(['table', 'wal'] as const)('PostgreSQL restarted mid-run (%s mode)', (mode) => {
  const schema = uniqueName(`restart_pg_${mode}`);
  const exchange = uniqueName('restart_pg_x');
  schemas.push(schema);
  it('relay, its connections and consumer recover; every committed message is applied once', async () => {
    await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await migrateOutbox({ database: testDatabaseUrl(), schema });
    await migrateInbox({ database: testDatabaseUrl(), schema });
    await admin.query(`CREATE TABLE "${schema}".effects (n int NOT NULL)`);
    const outbox = createOutbox({ contracts: [Tick], schema, exchange, mode });
    // A relay that polls only once a minute: after the restart, only its LISTEN (re-established)
    // or its awake window can publish in time; in WAL mode, only its slot.
    const relayOptions = { database: testDatabaseUrl(), amqp: testAmqpUrl(), schema, pollIntervalMs: 60_000 };
    if (mode === 'wal') await createWalSlot({ database: testDatabaseUrl(), slot });
    const relay = mode === 'wal' ? createWalRelay({ ...relayOptions, slot }) : createRelay(relayOptions);
    // Table mode runs the group partitioned on two instances: their partition lock sessions die
    // with the server too, and the instances must share the partitions again afterwards.
    const group = uniqueName('restart_pg');
    const consumerOptions = {
      group,
      database: testDatabaseUrl(),
      amqp: testAmqpUrl(),
      schema,
      exchange,
      retry: { maxAttempts: 20, baseDelayMs: 200, maxDelayMs: 1000 },
      handlers: [
        defineHandler(Tick, async (payload, ctx) => {
          await ctx.client.query(`INSERT INTO "${schema}".effects (n) VALUES ($1)`, [payload.n]);
        }),
      ],
      ...(mode === 'table' ? { partitions: { count: 4, rebalanceIntervalMs: 200, leaseMs: 2000 } } : {}),
    };
    const consumers =
      mode === 'table'
        ? [createConsumer(consumerOptions), createConsumer(consumerOptions)]
        : [createConsumer(consumerOptions)];
    const consumer = consumers[0] as (typeof consumers)[number];
    const producer = resilientPool(2);
    await relay.start();
    for (const c of consumers) await c.start();
    const committed: number[] = [];
    let stop = false;
    // The application: one message per transaction, a failed transaction retried after a pause.
    const produce = (async () => {
      for (let n = 0; !stop; ) {
        const client = await producer.connect().catch(() => undefined);
        if (!client) {
          await sleep(100);
          continue;
        }
        try {
          await client.query('BEGIN');
          await outbox.add(client, Tick.create({ n }));
          await client.query('COMMIT');
          committed.push(n);
          n += 1;
          client.release();
        } catch {
          client.release(true);
          await sleep(100);
        }
        await sleep(10);
      }
    })();
    try {
      await waitUntil('messages to flow', async () => (await effects()) >= 50, { timeoutMs: 30_000 });
      await restartPostgres();
      await waitUntil('PostgreSQL to accept queries', postgresAcceptsQueries, { timeoutMs: 60_000, intervalMs: 200 });
      const afterRestart = committed.length;
      await waitUntil('commits after the restart', () => committed.length >= afterRestart + 50, { timeoutMs: 60_000 });
      stop = true;
      await produce;
      await waitUntil('every committed message applied', async () => (await effects()) >= committed.length, {
        timeoutMs: 90_000,
        intervalMs: 200,
      });
      const { rows } = await admin.query<{ n: number; copies: number }>(
        `SELECT n, count(*)::int AS copies FROM "${schema}".effects GROUP BY n`,
      );
      const applied = new Map(rows.map((r) => [r.n, r.copies]));
      expect(
        committed.filter((n) => !applied.has(n)),
        'committed but never applied',
      ).toEqual([]);
      expect(
        rows.filter((r) => r.copies > 1),
        'applied twice',
      ).toEqual([]);
      if (mode === 'table') {
        // The relay's LISTEN connection is back.
        const { rows: listeners } = await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'txbox-outbox-listener' AND query ILIKE $1`,
          [`%LISTEN "${schema}_outbox"%`],
        );
        expect(listeners[0].n).toBe(1);
        // The two instances hold every partition again, each its half.
        const owned = await waitUntil('the partitions shared out again', async () => {
          const o = await Promise.all(consumers.map(async (c) => (await c.stats()).partitions?.owned ?? []));
          return o.every((p) => p.length === 2) ? o : false;
        });
        expect(owned.flat().sort()).toEqual([0, 1, 2, 3]);
      } else {
        // The relay streams its slot again.
        const { rows: slots } = await admin.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
          slot,
        ]);
        expect(slots).toEqual([{ active: true }]);
      }
    } finally {
      stop = true;
      await produce.catch(() => {});
      await relay.stop();
      if (mode === 'wal') {
        await waitUntil('the slot to be released', async () => {
          const { rows } = await admin.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
          return rows[0]?.active !== true;
        });
        await dropWalSlot({ database: testDatabaseUrl(), slot });
      }
      for (const c of consumers) await c.stop();
      await deleteTopology(amqp.channel, consumer.topology);
      await producer.end();
    }

    async function effects(): Promise<number> {
      const { rows } = await admin
        .query(`SELECT count(*)::int AS n FROM "${schema}".effects`)
        .catch(() => ({ rows: [{ n: 0 }] }));
      return rows[0].n;
    }
  }, 240_000);
});
