// @ts-check
// 1. write — a domain transaction (one insert) with and without outbox.add, N concurrent clients.
// Baseline and txbox alternate in rounds of equal length on the same connections, so drift
// (autovacuum, checkpoints, cache) hits both alike. Variants:
//   baseline: the domain transaction alone;
//   txbox: outbox.add with default options while a relay (default options, this process) drains
//     the outbox to RabbitMQ — as in production; the relay's CPU competes with the writers here;
//   txboxAsleep (context): no relay running, so no relay is awake and every commit notifies;
//   txboxNoNotify (context): the writer with notify: false, no relay;
//   txboxWal: the writer in WAL mode (one logical message, no row) while a WalRelay streams the
//     slot to RabbitMQ; PostgreSQL's walsender decodes the WAL meanwhile, on the same 2 cores.
import { createOutbox, createRelay, createWalRelay, migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import {
  AMQP_URL,
  CleanupStack,
  connectAmqp,
  DATABASE_URL,
  deleteAmqp,
  dropSchema,
  newPool,
  OrderPlaced,
  openChannel,
  perSec,
  ratio,
  summarize,
  uniqueName,
} from '../lib/common.mjs';
import { cpuMeter, mergeCpu } from '../lib/cpu.mjs';
import { advanceSlot, benchSlot } from '../lib/wal.mjs';

/**
 * @typedef {object} WriteSettings
 * @property {number} clients concurrent clients, each on its own connection
 * @property {number} roundMs length of one measured round of one variant
 * @property {number} rounds
 * @property {number} warmupMs each variant runs this long once before the rounds
 */

/** @typedef {'baseline' | 'txbox' | 'txboxAsleep' | 'txboxNoNotify' | 'txboxWal'} Variant */

/**
 * What the rounds of one variant add up to.
 * @typedef {object} Accumulator
 * @property {number} committed
 * @property {number} ms
 * @property {number[]} latencies
 * @property {(import('../lib/cpu.mjs').CpuSplit | null)[]} cpu
 * @property {(number | null)[]} rounds tx/s of each round
 */

/** @type {{ full: WriteSettings, quick: WriteSettings }} */
export const defaults = {
  full: { clients: 8, roundMs: 4000, rounds: 3, warmupMs: 1000 },
  quick: { clients: 8, roundMs: 1500, rounds: 1, warmupMs: 300 },
};

/** @param {import('../lib/common.mjs').ScenarioOptions<WriteSettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  const { clients: clientCount, roundMs, rounds, warmupMs } = settings;
  const schema = uniqueName('bench_write');
  const cleanup = new CleanupStack();
  const admin = newPool(2, databaseUrl);
  cleanup.add('admin pool', () => admin.end());
  try {
    await migrateOutbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(admin, schema));
    const orders = `"${schema}".orders`;
    await admin.query(
      `CREATE TABLE ${orders} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id text NOT NULL,
        total_cents integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    const exchange = `${schema.replaceAll('_', '.')}.events`;
    const queue = `${exchange}.queue`;
    const connection = await connectAmqp(amqpUrl);
    cleanup.add('amqp connection', () => connection.close().catch(() => {}));
    const amqpAdmin = await openChannel(connection);
    await amqpAdmin.assertExchange(exchange, 'topic', { durable: true });
    await amqpAdmin.assertQueue(queue, { durable: true });
    await amqpAdmin.bindQueue(queue, exchange, '#');
    cleanup.add('topology', () => deleteAmqp(connection, { queues: [queue], exchanges: [exchange] }));
    const withDefaults = createOutbox({ contracts: [OrderPlaced], schema, exchange });
    const variants = {
      baseline: null,
      txbox: withDefaults,
      txboxAsleep: withDefaults,
      txboxNoNotify: createOutbox({ contracts: [OrderPlaced], schema, exchange, notify: false }),
      txboxWal: createOutbox({ contracts: [OrderPlaced], schema, exchange, mode: 'wal' }),
    };
    const slot = await benchSlot(cleanup, databaseUrl, schema);
    /** @type {pg.Client[]} */
    const clients = [];
    cleanup.add('clients', () => Promise.all(clients.map((c) => c.end().catch(() => {}))));
    for (let i = 0; i < clientCount; i++) {
      const client = new pg.Client({ connectionString: databaseUrl, application_name: 'txbox-bench-write' });
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
    }

    let seq = 0;
    /**
     * @param {Variant} name
     * @param {number} ms
     * @param {Accumulator | null} record where a measured round goes; null for the warm-up
     */
    async function phase(name, ms, record) {
      const outbox = variants[name];
      // The txbox variants run with a relay draining the outbox, started before the clock.
      const relayOptions = { database: databaseUrl, amqp: amqpUrl, schema, retention: { intervalMs: 0 } };
      if (name === 'txboxWal') await advanceSlot(admin, slot);
      const relay =
        name === 'txbox'
          ? createRelay(relayOptions)
          : name === 'txboxWal'
            ? createWalRelay({ ...relayOptions, slot })
            : undefined;
      await relay?.start();
      /** @type {number[]} */
      const latencies = [];
      let committed = 0;
      const deadline = performance.now() + ms;
      const meter = cpuMeter();
      const started = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          while (performance.now() < deadline) {
            const n = ++seq;
            const orderId = `o-${n}`;
            const t0 = performance.now();
            await client.query('BEGIN');
            try {
              await client.query(`INSERT INTO ${orders} (order_id, total_cents) VALUES ($1, $2)`, [
                orderId,
                n % 10_000,
              ]);
              if (outbox) {
                await outbox.add(
                  client,
                  OrderPlaced.create({ orderId, totalCents: n % 10_000 }, { key: `order:${orderId}` }),
                );
              }
              await client.query('COMMIT');
            } catch (error) {
              await client.query('ROLLBACK').catch(() => {});
              throw error;
            }
            latencies.push(performance.now() - t0);
            committed += 1;
          }
        }),
      );
      const elapsed = performance.now() - started;
      const cpu = meter.stop();
      await relay?.stop();
      if (record) {
        record.committed += committed;
        record.rounds.push(perSec(committed, elapsed));
        record.ms += elapsed;
        record.latencies.push(...latencies);
        record.cpu.push(cpu);
      }
    }

    const order = /** @type {Variant[]} */ (Object.keys(variants));
    /** @returns {Accumulator} */
    const empty = () => ({ committed: 0, ms: 0, latencies: [], cpu: [], rounds: [] });
    const acc = /** @type {Record<Variant, Accumulator>} */ (Object.fromEntries(order.map((k) => [k, empty()])));
    for (const name of order) await phase(name, warmupMs, null);
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no variant always runs right after another.
      const rotated = order.slice(r % order.length).concat(order.slice(0, r % order.length));
      for (const name of rotated) {
        await admin.query(`TRUNCATE ${orders}, "${schema}".outbox, "${schema}".outbox_relay_awake`);
        await amqpAdmin.purgeQueue(queue);
        await phase(name, roundMs, acc[name]);
      }
      log(`  write round ${r + 1}: ${order.map((k) => `${k} ${acc[k].rounds.at(-1)} tx/s`).join(', ')}`);
    }

    /** @param {Accumulator} a */
    const variantResult = (a) => ({
      // Median of the rounds (robust to a noisy round on a shared machine); rounds listed.
      txPerSec: median(a.rounds),
      rounds: a.rounds,
      committed: a.committed,
      ...summarize(a.latencies),
      cpu: mergeCpu(a.cpu),
    });
    const out = {
      baseline: variantResult(acc.baseline),
      txbox: variantResult(acc.txbox),
      txboxAsleep: variantResult(acc.txboxAsleep),
      txboxNoNotify: variantResult(acc.txboxNoNotify),
      txboxWal: variantResult(acc.txboxWal),
    };
    await amqpAdmin.close();
    return {
      clients: clientCount,
      baseline: out.baseline,
      txbox: out.txbox,
      txboxAsleep: out.txboxAsleep,
      txboxNoNotify: out.txboxNoNotify,
      txboxWal: out.txboxWal,
      // Overhead factor: baseline throughput / txbox throughput (1.00 = free; target ≤ 1.25),
      // the median of the per-round factors (the variants of one round run back to back).
      ratio: median(acc.baseline.rounds.map((b, i) => ratio(b, acc.txbox.rounds[i]))),
      ratioAsleep: median(acc.baseline.rounds.map((b, i) => ratio(b, acc.txboxAsleep.rounds[i]))),
      ratioNoNotify: median(acc.baseline.rounds.map((b, i) => ratio(b, acc.txboxNoNotify.rounds[i]))),
      // WAL mode's overhead factor, the same way (target ≤ 1.05).
      walRatio: median(acc.baseline.rounds.map((b, i) => ratio(b, acc.txboxWal.rounds[i]))),
      p99Ratio: ratio(out.txbox.p99Ms, out.baseline.p99Ms),
    };
  } finally {
    await cleanup.run(log);
  }
}

/**
 * The median of the numbers among `values` (two middle values: their mean, to 2 decimals).
 * @param {readonly (number | null)[]} values
 * @returns {number | null} null when there is no number
 */
function median(values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid];
  if (upper === undefined) return null; // no number at all
  const lower = sorted[mid - 1] ?? upper;
  return sorted.length % 2 ? upper : Math.round(((lower + upper) / 2) * 100) / 100;
}
