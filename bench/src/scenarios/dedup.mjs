// @ts-check
// 4. dedup under replay — N unique messages, each published `copies` times with the same id:
// copy 1 in order, copy 2 in the same order (so duplicates race the first delivery in flight),
// further copies shuffled; all publishers run at once, concurrently with consumption, and the
// consumer is stopped and replaced by a new instance halfway through. Then the cost of a
// duplicate next to the cost of a new message, each measured on its own queue backlog. Runs once
// per consumer design: one transaction per delivery, and batched (batch.maxMessages).
import diagnosticsChannel from 'node:diagnostics_channel';
import { createConsumer, declareTopology, defineHandler, INBOX_CHANNELS, migrateInbox } from '@txbox/inbox';
import {
  AMQP_URL,
  Blob,
  CleanupStack,
  connectAmqp,
  DATABASE_URL,
  deleteAmqp,
  dropSchema,
  encodeBlob,
  newId,
  newPool,
  openChannel,
  perSec,
  present,
  publishConfirmed,
  queueDepth,
  round,
  sleep,
  topologyQueues,
  uniqueName,
  waitUntil,
} from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';

/**
 * @typedef {object} DedupSettings
 * @property {number} unique ids, each published `copies` times
 * @property {number} copies
 * @property {number} concurrency
 * @property {number} payloadBytes
 * @property {number} [costSample] messages per cost measurement; 0 (default) skips it
 * @property {number[]} [designs] batch.maxMessages of each consumer design to run; default [32] (the
 *   consumer's default: adaptive batches, run with no batch option at all).
 */

/** @typedef {{ messages: number, perSec: number | null, costUs: number | null }} DrainCost */

/**
 * The cost of a duplicate next to the cost of a new message, each drained from its own backlog.
 * @typedef {object} DedupCost
 * @property {number} concurrency
 * @property {DrainCost} duplicate
 * @property {DrainCost} new
 * @property {number | null} duplicateUs wall time per duplicate at this concurrency (1e6 / throughput)
 * @property {number | null} newUs wall time per new message at this concurrency
 * @property {number | null} duplicateCostVsNew new msg/s ÷ duplicate msg/s
 */

/**
 * One consumer design's run.
 * @typedef {object} DedupDesignResult
 * @property {number} batchMessages
 * @property {number} unique
 * @property {number} copies
 * @property {number} published
 * @property {number} deliveries
 * @property {number} effects handler rows
 * @property {number} distinctEffects ids with a handler row
 * @property {number} duplicatesSkipped
 * @property {number} lost ids without a handler row
 * @property {number} appliedTwice handler rows beyond one per id
 * @property {number} inboxRecords
 * @property {number} retried
 * @property {number} deadLettered
 * @property {number} errors
 * @property {number | null} msgsPerSec deliveries per second
 * @property {number} ms
 * @property {{ atDeliveries: number, stopMs: number | null, startMs: number | null }} restart
 * @property {number} concurrency
 * @property {import('../lib/cpu.mjs').CpuSplit | null} cpu
 * @property {DedupCost} [cost] when `costSample` > 0
 */

/**
 * The first design's numbers, and every design's under `designs`.
 * @typedef {DedupDesignResult & { designs: DedupDesignResult[] }} DedupResult
 */

/** @typedef {'processed' | 'duplicate' | 'retried' | 'deadLettered' | 'errors'} Outcome */

/** The consumer's default batch.maxMessages (see @txbox/inbox's consumer options). */
export const DEFAULT_BATCH = 32;

/** @type {{ full: DedupSettings, quick: DedupSettings }} */
export const defaults = {
  full: { unique: 20_000, copies: 3, concurrency: 8, payloadBytes: 1000, costSample: 5000, designs: [32, 1] },
  quick: { unique: 3_000, copies: 3, concurrency: 8, payloadBytes: 1000, costSample: 1000, designs: [32, 1] },
};

/**
 * Runs the scenario once per consumer design in `settings.designs` (batch.maxMessages: 32 = the
 * consumer's defaults, adaptive batches; 1 = one transaction per delivery). The first design is
 * the headline; the others are under `designs`.
 * @param {import('../lib/common.mjs').ScenarioOptions<DedupSettings>} options
 * @returns {Promise<DedupResult>}
 */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  const designs = settings.designs ?? [DEFAULT_BATCH];
  if (designs.length === 0) throw new Error('dedup: settings.designs is empty');
  /** @type {DedupDesignResult[]} */
  const results = [];
  for (const batchMessages of designs) {
    results.push(await runDesign({ settings, batchMessages, databaseUrl, amqpUrl, log }));
  }
  return { ...present(results[0], 'the first design'), designs: results };
}

/**
 * @param {{ settings: DedupSettings, batchMessages: number, databaseUrl: string, amqpUrl: string,
 *   log: (message: string) => void }} options
 * @returns {Promise<DedupDesignResult>}
 */
async function runDesign({ settings, batchMessages, databaseUrl, amqpUrl, log }) {
  const { unique: n, copies, concurrency, payloadBytes, costSample = 0 } = settings;
  const schema = uniqueName('bench_dedup');
  const group = schema.replace('_', '.');
  const exchange = `${group}.events`;
  const cleanup = new CleanupStack();
  const pool = newPool(4, databaseUrl);
  cleanup.add('pool', () => pool.end());
  const connection = await connectAmqp(amqpUrl);
  cleanup.add('amqp connection', () => connection.close().catch(() => {}));

  // Outcome counters, for every consumer instance of the group.
  /** @type {Record<Outcome, number>} */
  const counts = { processed: 0, duplicate: 0, retried: 0, deadLettered: 0, errors: 0 };
  // When each outcome happened, while recordStamps is on (the cost phase).
  /** @type {Partial<Record<Outcome, number[]>>} */
  const stamps = { processed: [], duplicate: [] };
  let recordStamps = false;
  /** @type {[string, Outcome][]} */
  const channels = [
    [INBOX_CHANNELS.processed, 'processed'],
    [INBOX_CHANNELS.duplicate, 'duplicate'],
    [INBOX_CHANNELS.retried, 'retried'],
    [INBOX_CHANNELS.deadLettered, 'deadLettered'],
    [INBOX_CHANNELS.error, 'errors'],
  ];
  const subscriptions = channels.map(([channel, key]) => {
    /** @param {unknown} message */
    const fn = (message) => {
      // Every inbox event, the error event included, names its group.
      const event = /** @type {{ group: string }} */ (message);
      if (event.group !== group) return;
      counts[key] += 1;
      if (recordStamps && stamps[key]) stamps[key].push(performance.now());
    };
    diagnosticsChannel.subscribe(channel, fn);
    return () => diagnosticsChannel.unsubscribe(channel, fn);
  });
  cleanup.add('subscriptions', () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  });

  try {
    await migrateInbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(pool, schema));
    const effects = `"${schema}".effects`;
    // No unique constraint: a handler applied twice shows as two rows.
    await pool.query(`CREATE TABLE ${effects} (message_id text NOT NULL, i integer NOT NULL)`);

    /** @type {import('@txbox/inbox').InboxConsumer[]} */
    const consumers = [];
    cleanup.add('consumers', () => Promise.all(consumers.map((c) => c.stop().catch(() => {}))));
    const makeConsumer = () => {
      const consumer = createConsumer({
        group,
        database: databaseUrl,
        amqp: amqpUrl,
        schema,
        exchange,
        concurrency,
        // The default design runs with the consumer's defaults, as a user would.
        ...(batchMessages === DEFAULT_BATCH ? {} : { batch: { maxMessages: batchMessages } }),
        retention: { intervalMs: 0 },
        handlers: [
          defineHandler(Blob, async (payload, ctx) => {
            await ctx.client.query(`INSERT INTO ${effects} (message_id, i) VALUES ($1, $2)`, [
              ctx.envelope.id,
              payload.i,
            ]);
          }),
        ],
      });
      consumers.push(consumer);
      return consumer;
    };
    const topology = makeConsumer().topology;
    cleanup.add('topology', () => deleteAmqp(connection, { queues: topologyQueues(topology), exchanges: [exchange] }));
    const admin = await openChannel(connection);
    await declareTopology(admin, topology);
    await admin.close();

    const ids = Array.from({ length: n }, () => newId());
    const orders = Array.from({ length: copies }, (_, c) => {
      const order = ids.map((_, i) => i);
      if (c >= 2) shuffle(order);
      return order;
    });
    const total = n * copies;
    const deliveries = () => counts.processed + counts.duplicate + counts.deadLettered;

    // Replay phase.
    const meter = cpuMeter();
    const started = performance.now();
    let current = makeConsumer();
    await current.start();
    const publishers = orders.map(async (order) => {
      const channel = await openChannel(connection, true);
      const chunk = 250;
      for (let k = 0; k < order.length; k += chunk) {
        const batch = order.slice(k, k + chunk).map((i) => encodeBlob(present(ids[i], `id ${i}`), i, payloadBytes));
        await publishConfirmed(channel, exchange, Blob.type, batch, chunk);
      }
      await channel.close();
    });
    const publishing = Promise.all(publishers);
    // Restart halfway: a graceful stop (running handlers finish and ack), then a new instance.
    await waitUntil('half the deliveries', () => deliveries() >= total / 2, { timeoutMs: 300_000, intervalMs: 2 });
    /** @type {DedupDesignResult['restart']} */
    const restart = { atDeliveries: deliveries(), stopMs: null, startMs: null };
    let t = performance.now();
    await current.stop();
    restart.stopMs = round(performance.now() - t, 1);
    t = performance.now();
    current = makeConsumer();
    await current.start();
    restart.startMs = round(performance.now() - t, 1);
    await publishing;
    await waitUntil(
      'every delivery handled',
      async () => {
        if (deliveries() < total) return false;
        const depths = await Promise.all(topologyQueues(topology).map((q) => queueDepth(connection, q)));
        return depths.every((d) => d === 0) && (await current.stats()).inFlight === 0;
      },
      { timeoutMs: 300_000, intervalMs: 50 },
    );
    // Anything still unacknowledged would be redelivered now; give it a moment to show.
    await sleep(200);
    const ms = performance.now() - started;
    const cpu = meter.stop();

    const { rows } = await pool.query(
      `SELECT count(*)::int AS effects, count(DISTINCT message_id)::int AS distinct_ids FROM ${effects}`,
    );
    const { rows: inbox } = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".inbox WHERE consumer_group = $1`,
      [group],
    );
    /** @type {DedupDesignResult} */
    const result = {
      batchMessages,
      unique: n,
      copies,
      published: total,
      deliveries: deliveries(),
      effects: rows[0].effects,
      distinctEffects: rows[0].distinct_ids,
      duplicatesSkipped: counts.duplicate,
      lost: n - rows[0].distinct_ids,
      appliedTwice: rows[0].effects - rows[0].distinct_ids,
      inboxRecords: inbox[0].n,
      retried: counts.retried,
      deadLettered: counts.deadLettered,
      errors: counts.errors,
      msgsPerSec: perSec(deliveries(), ms),
      ms: Math.round(ms),
      restart,
      concurrency,
      cpu,
    };
    log(
      `  dedup (batch.maxMessages ${batchMessages}): ${result.deliveries} deliveries, ${result.effects} effects for ${n} ids, lost ${result.lost}, ${result.msgsPerSec} deliveries/s`,
    );

    if (costSample > 0) {
      // The cost of a duplicate next to a new message: the same queue backlog drained by a
      // fresh consumer, timed from its first to its last outcome.
      await current.stop();
      const k = Math.min(costSample, n);
      /**
       * @param {ReturnType<typeof encodeBlob>[]} encoded
       * @param {'duplicate' | 'processed'} key the outcome every message of `encoded` has
       * @returns {Promise<DrainCost>}
       */
      const drain = async (encoded, key) => {
        const ch = await openChannel(connection, true);
        await publishConfirmed(ch, exchange, Blob.type, encoded, 1000);
        await ch.close();
        /** @type {number[]} */
        const s = [];
        stamps[key] = s;
        recordStamps = true;
        const consumer = makeConsumer();
        await consumer.start();
        await waitUntil(key, () => s.length >= encoded.length, { timeoutMs: 120_000, intervalMs: 2 });
        recordStamps = false;
        await consumer.stop();
        const perSecond = perSec(s.length - 1, (s.at(-1) ?? Number.NaN) - (s[0] ?? Number.NaN));
        return { messages: encoded.length, perSec: perSecond, costUs: perSecond ? Math.round(1e6 / perSecond) : null };
      };
      const duplicate = await drain(
        ids.slice(0, k).map((id, i) => encodeBlob(id, i, payloadBytes)),
        'duplicate',
      );
      const fresh = await drain(
        Array.from({ length: k }, (_, i) => encodeBlob(newId(), i, payloadBytes)),
        'processed',
      );
      result.cost = {
        concurrency,
        duplicate,
        new: fresh,
        // Wall time per message at this concurrency (1e6 / throughput).
        duplicateUs: duplicate.costUs,
        newUs: fresh.costUs,
        duplicateCostVsNew: fresh.perSec && duplicate.perSec ? round(fresh.perSec / duplicate.perSec, 2) : null,
      };
      log(
        `  dedup cost: duplicate ${duplicate.costUs} µs, new ${fresh.costUs} µs (wall per message, ${concurrency} at once)`,
      );
    }
    return result;
  } finally {
    await cleanup.run(log);
  }
}

/**
 * Fisher–Yates, in place.
 * @template T
 * @param {T[]} array
 */
function shuffle(array) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [array[i], array[j]] = [present(array[j], 'entry j'), present(array[i], 'entry i')];
  }
  return array;
}
