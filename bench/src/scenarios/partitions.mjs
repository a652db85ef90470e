// @ts-check
// 7. partitions — what partitioned consumption buys: a backlog of keyed messages drained by 1, 2 and
// 4 instances of a partitioned group (partitions.count 8), beside the same group with
// `singleActiveConsumer: true` on one queue (2 instances, one consuming): the other way to keep a
// key's order across instances. The handler writes one row in the inbox transaction, then waits
// an I/O-like pause (an awaited timer), so a handler slot, not the CPU, is what one instance runs
// out of first and more instances can matter. All instances live in this process, each a
// consumer of its own with its own pool and broker connection, as separate services would be.
import diagnosticsChannel from 'node:diagnostics_channel';
import { createConsumer, declareTopology, defineHandler, INBOX_CHANNELS, migrateInbox } from '@txbox/inbox';
import { deleteTopology } from '../../../test-support/topology.mjs';
import {
  AMQP_URL,
  Blob,
  DATABASE_URL,
  dropSchema,
  encodeBlob,
  newId,
  openChannel,
  openScenario,
  perSec,
  publishConfirmed,
  ratio,
  sleep,
  waitUntil,
} from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';

/**
 * @typedef {object} PartitionsSettings
 * @property {number} messages backlog per measurement
 * @property {number} keys ordering keys the backlog is spread over (round-robin)
 * @property {number} payloadBytes
 * @property {number} partitions partitions.count
 * @property {number} concurrency per instance, every design
 * @property {number} pauseMs the handler's awaited pause after its insert
 * @property {number[]} instances partitioned instance counts to measure
 * @property {number} [repeats] rounds (default 1); the best round of each design counts
 */

/** @typedef {import('../lib/cpu.mjs').CpuSplit} CpuSplit */

/**
 * One drain: msg/s from start() until every message was applied, and how the work was shared.
 * @typedef {object} Drain
 * @property {number | null} msgsPerSec
 * @property {number} ms
 * @property {number[]} perInstance handler runs of each instance (how the backlog was shared)
 * @property {number | null} sharedAfterMs partitioned: when every partition was owned and the shares
 *   differed by at most one (null: not within the drain)
 * @property {number | null} afterSharedMsgsPerSec partitioned: msg/s from `sharedAfterMs` to the end (what the
 *   instances do once the partitions are shared out; null when that was not within the drain)
 * @property {CpuSplit | null} cpu
 */

/** Everything but the size: the same in full and quick runs. */
const shape = { keys: 500, payloadBytes: 200, partitions: 8, concurrency: 4, pauseMs: 2, instances: [1, 2, 4] };

/** @type {{ full: PartitionsSettings, quick: PartitionsSettings }} */
export const defaults = {
  full: { ...shape, messages: 20_000, repeats: 2 },
  quick: { ...shape, messages: 6_000, repeats: 1 },
};

/** Instances of the single-active-consumer group: one consumes, the other stands by. */
const SAC_INSTANCES = 2;

/** @param {import('../lib/common.mjs').ScenarioOptions<PartitionsSettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  const { messages: n, keys, payloadBytes, partitions, concurrency, pauseMs, instances, repeats = 1 } = settings;
  const { schema, cleanup, pool, connection } = await openScenario({
    prefix: 'bench_partitions',
    poolSize: 2,
    databaseUrl,
    amqpUrl,
  });
  const base = schema.replace('_', '.');
  try {
    await migrateInbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(pool, schema));
    const effects = `"${schema}".effects`;
    await pool.query(`CREATE TABLE ${effects} (message_id text NOT NULL, key text NOT NULL)`);

    /**
     * The two groups, each on an exchange of its own (a backlog published for one is not queued
     * for the other).
     * @param {'partitioned' | 'sac'} design
     */
    const groupOf = (design) => ({ group: `${base}.${design}`, exchange: `${base}.${design}.events` });
    /**
     * @param {'partitioned' | 'sac'} design
     * @param {number[]} counts handler runs per instance, by index
     * @param {number} index
     * @param {import('@txbox/core').TxboxLogger} [logger]
     */
    const makeConsumer = (design, counts, index, logger) =>
      createConsumer({
        ...groupOf(design),
        database: databaseUrl,
        amqp: amqpUrl,
        schema,
        concurrency,
        retention: { intervalMs: 0 },
        ...(logger ? { logger } : {}),
        ...(design === 'partitioned' ? { partitions: { count: partitions } } : { singleActiveConsumer: true }),
        handlers: [
          defineHandler(Blob, async (_payload, ctx) => {
            await ctx.client.query(`INSERT INTO ${effects} (message_id, key) VALUES ($1, $2)`, [
              ctx.envelope.id,
              ctx.envelope.key,
            ]);
            await sleep(pauseMs);
            counts[index] = (counts[index] ?? 0) + 1;
          }),
        ],
      });
    const admin = await openChannel(connection);
    for (const design of /** @type {const} */ (['partitioned', 'sac'])) {
      const topology = makeConsumer(design, [], 0).topology;
      cleanup.add(`${design} topology`, async () => {
        const ch = await openChannel(connection);
        await deleteTopology(ch, topology);
        await ch.close().catch(() => {});
      });
      await declareTopology(admin, topology);
    }
    await admin.close();
    const publisher = await openChannel(connection, true);
    cleanup.add('publisher', () => publisher.close().catch(() => {}));

    /**
     * A backlog of `n` keyed messages, encoded as a relay publishes them: with x-txbox-key and the
     * x-txbox-partition-key header the consistent-hash exchange routes on.
     * @param {string} exchange
     */
    const fillBacklog = async (exchange) => {
      const encoded = Array.from({ length: n }, (_, i) => encodeBlob(newId(), i, payloadBytes, `k${i % keys}`));
      await publishConfirmed(publisher, exchange, Blob.type, encoded, 2000);
    };

    /**
     * Fills the backlog, starts `count` instances at once and times them until every message was applied.
     * @param {'partitioned' | 'sac'} design
     * @param {number} count
     * @returns {Promise<Drain>}
     */
    const drain = async (design, count) => {
      const { group, exchange } = groupOf(design);
      await fillBacklog(exchange);
      /** @type {number[]} */
      const counts = Array.from({ length: count }, () => 0);
      /** @type {number[]} partitions each instance owns, from its rebalance log lines */
      const owned = Array.from({ length: count }, () => 0);
      /** @type {number | null} */
      let sharedAfterMs = null;
      let processedWhenShared = 0;
      let processed = 0;
      let t0 = performance.now();
      /** @param {number} index @returns {import('@txbox/core').TxboxLogger} */
      const shareWatcher = (index) => ({
        debug() {},
        info(msg, fields) {
          if (msg !== 'Inbox partitions rebalanced' || !Array.isArray(fields?.owned)) return;
          owned[index] = fields.owned.length;
          const even = Math.max(...owned) - Math.min(...owned) <= 1;
          if (sharedAfterMs === null && even && owned.reduce((a, b) => a + b, 0) === partitions) {
            sharedAfterMs = Math.round(performance.now() - t0);
            processedWhenShared = processed;
          }
        },
        warn() {},
        error() {},
      });
      const consumers = counts.map((_, i) =>
        makeConsumer(design, counts, i, design === 'partitioned' ? shareWatcher(i) : undefined),
      );
      for (const c of consumers) cleanup.add(`${design} consumer`, () => c.stop());
      /** @param {unknown} message */
      const onProcessed = (message) => {
        if (/** @type {import('@txbox/inbox').InboxMessageEvent} */ (message).group === group) processed += 1;
      };
      diagnosticsChannel.subscribe(INBOX_CHANNELS.processed, onProcessed);
      const meter = cpuMeter();
      t0 = performance.now();
      try {
        await Promise.all(consumers.map((c) => c.start()));
        await waitUntil(`${design} drain`, () => processed >= n, { timeoutMs: 300_000, intervalMs: 5 });
      } finally {
        diagnosticsChannel.unsubscribe(INBOX_CHANNELS.processed, onProcessed);
      }
      const ms = performance.now() - t0;
      const cpu = meter.stop();
      await Promise.all(consumers.map((c) => c.stop()));
      const afterSharedMsgsPerSec = sharedAfterMs === null ? null : perSec(n - processedWhenShared, ms - sharedAfterMs);
      return {
        msgsPerSec: perSec(n, ms),
        ms: Math.round(ms),
        perInstance: counts,
        sharedAfterMs,
        afterSharedMsgsPerSec,
        cpu,
      };
    };

    // Rounds interleave the designs; the best round of each counts.
    /** @type {Map<string, Drain[]>} */
    const rounds = new Map();
    /** @param {string} name @param {Drain} d */
    const record = (name, d) => rounds.set(name, [...(rounds.get(name) ?? []), d]);
    for (let rep = 0; rep < repeats; rep++) {
      record('sac', await drain('sac', SAC_INSTANCES));
      for (const k of instances) record(`p${k}`, await drain('partitioned', k));
      log(
        `  partitions round ${rep + 1}: singleActiveConsumer ${rounds.get('sac')?.at(-1)?.msgsPerSec} msg/s; ` +
          instances.map((k) => `${k} partitioned ${rounds.get(`p${k}`)?.at(-1)?.msgsPerSec} msg/s`).join(', '),
      );
    }
    /**
     * @param {string} name
     * @returns {Drain & { rounds: (number | null)[] }}
     */
    const best = (name) => {
      const list = rounds.get(name) ?? [];
      const top = list.reduce((a, b) => ((b.msgsPerSec ?? 0) > (a.msgsPerSec ?? 0) ? b : a));
      return { ...top, rounds: list.map((x) => x.msgsPerSec) };
    };
    const sac = best('sac');
    const partitioned = instances.map((k) => {
      const d = best(`p${k}`);
      return { instances: k, ...d, vsSingleActive: ratio(d.msgsPerSec, sac.msgsPerSec) };
    });
    const one = partitioned.find((p) => p.instances === 1);
    const four = partitioned.find((p) => p.instances === 4);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS d FROM ${effects}`,
    );
    return {
      messages: n,
      keys,
      payloadBytes,
      partitions,
      concurrency,
      pauseMs,
      repeats,
      singleActive: { instances: SAC_INSTANCES, ...sac },
      partitioned,
      // Target `partitions.scale4`: 4 partitioned instances ÷ 1.
      scale4: ratio(four?.msgsPerSec, one?.msgsPerSec),
      effects: rows[0].n,
      distinctEffects: rows[0].d,
      expectedEffects: n * repeats * (instances.length + 1),
    };
  } finally {
    await cleanup.run(log);
  }
}
