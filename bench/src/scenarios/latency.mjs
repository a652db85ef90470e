// @ts-check
// 5. end-to-end latency and CPU per message — commit → handler committed, at fixed offered loads
// (open loop: message k is due at start + k / rate, whatever happened before). Each producer
// transaction inserts one business row; each handler inserts one row.
//   txbox: outbox.add in the producer's transaction, a relay and an inbox consumer in this
//     process, all with their default options (wake-up included);
//   dual write (the baseline): commit, then publish directly with a publisher confirm; a
//     hand-written consumer (consume, BEGIN; INSERT; COMMIT, ack) — no outbox, no dedup: what a
//     team writes without txbox, and loses messages with on a crash between commit and publish;
//   polling (context): txbox with wake-ups off (writer notify off, relay listen off);
//   wal: txbox in WAL mode (the writer emits a logical message; a WalRelay streams the slot).
// Both at 200 and 500 msg/s; CPU per message (Node, PostgreSQL, RabbitMQ) from the same runs.
//
// Timing: the producer takes t_commit = performance.timeOrigin + performance.now() when its
// COMMIT returns and keeps it by message id. The handler-committed time is taken in a subscriber
// of the `txbox:inbox:processed` diagnostics channel, which the consumer publishes right after
// the handler's transaction commits (dual write: right after the consumer's COMMIT). Same
// process, same clock.
import diagnosticsChannel from 'node:diagnostics_channel';
import { createConsumer, defineHandler, INBOX_CHANNELS, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, createWalRelay, migrateOutbox } from '@txbox/outbox';
import {
  AMQP_URL,
  CleanupStack,
  connectAmqp,
  DATABASE_URL,
  deleteAmqp,
  dropSchema,
  newId,
  newPool,
  nowMs,
  openChannel,
  Ping,
  perSec,
  present,
  ratio,
  sleep,
  summarize,
  topologyQueues,
  uniqueName,
  waitUntil,
} from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { benchSlot } from '../lib/wal.mjs';

/** @typedef {'txbox' | 'wal' | 'dualWrite' | 'polling'} LatencyMode */

/**
 * @typedef {object} LatencySettings
 * @property {number} rate the headline offered load (targets), messages per second
 * @property {number[]} [rates] offered loads to run txbox and dual write at; default [200, rate]
 * @property {number} durationMs offered for this long, per mode and rate
 * @property {number} warmupMs messages committed before this are not measured
 * @property {number} pollIntervalMs the relay's poll interval in the polling mode
 * @property {number} producers connections the producer commits on
 * @property {number} concurrency the consumer's
 * @property {LatencyMode[]} [modes] default all four (polling at the headline rate only)
 */

/** @type {{ full: LatencySettings, quick: LatencySettings }} */
export const defaults = {
  full: { rate: 500, durationMs: 20_000, warmupMs: 1000, pollIntervalMs: 100, producers: 16, concurrency: 8 },
  quick: { rate: 500, durationMs: 5_000, warmupMs: 500, pollIntervalMs: 100, producers: 16, concurrency: 8 },
};

/** @param {import('../lib/common.mjs').ScenarioOptions<LatencySettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  /** @type {LatencyMode[]} */
  const modes = settings.modes ?? ['txbox', 'wal', 'dualWrite', 'polling'];
  const rates = settings.rates ?? [...new Set([200, settings.rate])];
  /** @type {{ rate: number, txbox?: ModeResult, wal?: ModeResult, dualWrite?: ModeResult }[]} */
  const byRate = [];
  /** @type {ModeResult | undefined} */
  let polling;
  for (const rate of rates) {
    /** @type {{ rate: number, txbox?: ModeResult, wal?: ModeResult, dualWrite?: ModeResult }} */
    const entry = { rate };
    for (const mode of modes) {
      if (mode === 'polling' && rate !== settings.rate) continue;
      const r = await runMode(mode, { settings: { ...settings, rate }, databaseUrl, amqpUrl, log });
      log(
        `  latency ${mode} @ ${rate} msg/s: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, p99 ${r.p99Ms} ms (${r.count} messages)`,
      );
      if (mode === 'polling') polling = r;
      else entry[mode] = r;
    }
    byRate.push(entry);
  }
  const at = byRate.find((x) => x.rate === settings.rate);
  const headline = present(at?.txbox ?? at?.dualWrite ?? polling, 'a latency mode');
  const cpuTxbox = cpuPerMessage(at?.txbox);
  const cpuDual = cpuPerMessage(at?.dualWrite);
  return {
    rate: settings.rate,
    targetRate: settings.rate,
    durationMs: settings.durationMs,
    pollIntervalMs: settings.pollIntervalMs,
    p50Ms: headline.p50Ms,
    p95Ms: headline.p95Ms,
    p99Ms: headline.p99Ms,
    rates: byRate,
    // The headline rate's txbox run under its earlier name (txbox with its default wake-up).
    notify: at?.txbox,
    polling,
    p99Ratio: ratio(at?.txbox?.p99Ms, at?.dualWrite?.p99Ms),
    cpuPerMessage: {
      rate: settings.rate,
      txbox: cpuTxbox,
      dualWrite: cpuDual,
      ratio: ratio(cpuTxbox?.totalUs, cpuDual?.totalUs),
    },
  };
}

/**
 * CPU µs per handled message: Node (this process: producer, relay, consumer) and PostgreSQL,
 * RabbitMQ apart (context). `totalUs` is Node + PostgreSQL, what the target compares.
 * @param {ModeResult | undefined} r
 */
function cpuPerMessage(r) {
  const cpu = r?.cpu;
  const handled = r?.handled ?? 0;
  if (!cpu || handled === 0) return null;
  /** @param {number | null} ms */
  const us = (ms) => (ms === null ? null : Math.round((ms * 1000) / handled));
  const nodeUs = us(cpu.nodeMs);
  const postgresUs = us(cpu.postgresMs);
  return {
    nodeUs,
    postgresUs,
    rabbitmqUs: us(cpu.rabbitmqMs),
    totalUs: nodeUs === null || postgresUs === null ? null : nodeUs + postgresUs,
  };
}

/** @typedef {Awaited<ReturnType<typeof runMode>>} ModeResult */

/**
 * @param {LatencyMode} mode
 * @param {{ settings: LatencySettings, databaseUrl: string, amqpUrl: string, log: (message: string) => void }} options
 */
async function runMode(mode, { settings, databaseUrl, amqpUrl, log }) {
  const { rate, durationMs, warmupMs, pollIntervalMs, producers, concurrency } = settings;
  const schema = uniqueName(`bench_lat_${mode.toLowerCase()}`);
  const group = schema.replaceAll('_', '.');
  const exchange = `${group}.events`;
  const cleanup = new CleanupStack();
  const pool = newPool(producers, databaseUrl);
  cleanup.add('pool', () => pool.end());
  const connection = await connectAmqp(amqpUrl);
  cleanup.add('amqp connection', () => connection.close().catch(() => {}));
  // Commit and handled times by message id, whichever of the two came first.
  /** @type {Map<string | undefined, number>} */
  const commits = new Map();
  /** @type {Map<string | undefined, number>} */
  const handled = new Map();
  /** @type {number[]} */
  const latencies = [];
  let measuredFrom = Number.POSITIVE_INFINITY;
  let committedCount = 0;
  let handledCount = 0;
  /**
   * @param {number} commitAt
   * @param {number} handledAt
   */
  const record = (commitAt, handledAt) => {
    if (commitAt >= measuredFrom) latencies.push(handledAt - commitAt);
  };
  /** @param {unknown} message */
  const onProcessed = (message) => {
    const event = /** @type {import('@txbox/inbox').InboxMessageEvent} */ (message);
    if (event.group === group) onHandled(event.id);
  };
  /** @param {string | undefined} id */
  const onHandled = (id) => {
    handledCount += 1;
    const handledAt = nowMs();
    const commitAt = commits.get(id);
    if (commitAt === undefined) handled.set(id, handledAt);
    else {
      commits.delete(id);
      record(commitAt, handledAt);
    }
  };
  /** @param {string} id */
  const onCommitted = (id) => {
    const commitAt = nowMs();
    committedCount += 1;
    const handledAt = handled.get(id);
    if (handledAt === undefined) commits.set(id, commitAt);
    else {
      handled.delete(id);
      record(commitAt, handledAt);
    }
  };
  diagnosticsChannel.subscribe(INBOX_CHANNELS.processed, onProcessed);
  cleanup.add('subscription', () => diagnosticsChannel.unsubscribe(INBOX_CHANNELS.processed, onProcessed));
  try {
    const effects = `"${schema}".effects`;
    const business = `"${schema}".business`;
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    cleanup.add('schema', () => dropSchema(pool, schema));
    await pool.query(`CREATE TABLE ${effects} (n integer NOT NULL, written_at float8 NOT NULL)`);
    await pool.query(`CREATE TABLE ${business} (n integer NOT NULL, written_at float8 NOT NULL)`);
    /** @type {(client: import('pg').PoolClient, n: number) => Promise<void>} */
    let write;
    if (mode === 'dualWrite') {
      const queue = `${group}.queue`;
      const admin = await openChannel(connection);
      await admin.assertExchange(exchange, 'topic', { durable: true });
      await admin.assertQueue(queue, { durable: true });
      await admin.bindQueue(queue, exchange, Ping.type);
      cleanup.add('topology', () => deleteAmqp(connection, { queues: [queue], exchanges: [exchange] }));
      await admin.close();
      const publisher = await openChannel(connection, true);
      cleanup.add('publisher', () => publisher.close().catch(() => {}));
      const stopConsumer = await handWrittenConsumer({ connection, pool, queue, effects, concurrency, onHandled });
      cleanup.add('hand-written consumer', stopConsumer);
      write = async (client, n) => {
        const id = newId();
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${business} (n, written_at) VALUES ($1, $2)`, [n, nowMs()]);
        await client.query('COMMIT');
        onCommitted(id);
        const body = Buffer.from(JSON.stringify({ n, writtenAt: nowMs() }));
        const options = { messageId: id, persistent: true, contentType: 'application/json' };
        await new Promise((resolve, reject) => {
          publisher.publish(exchange, Ping.type, body, options, (err) => (err ? reject(err) : resolve(undefined)));
        });
      };
    } else {
      await migrateOutbox({ database: databaseUrl, schema });
      await migrateInbox({ database: databaseUrl, schema });
      const polling = mode === 'polling';
      const wal = mode === 'wal';
      // Registered before the relay, so the slot is dropped after the relay stopped.
      const slot = wal ? await benchSlot(cleanup, databaseUrl, schema) : undefined;
      const consumer = createConsumer({
        group,
        database: databaseUrl,
        amqp: amqpUrl,
        schema,
        exchange,
        concurrency,
        retention: { intervalMs: 0 },
        handlers: [
          defineHandler(Ping, async (payload, ctx) => {
            await ctx.client.query(`INSERT INTO ${effects} (n, written_at) VALUES ($1, $2)`, [
              payload.n,
              payload.writtenAt,
            ]);
          }),
        ],
      });
      cleanup.add('topology', () =>
        deleteAmqp(connection, { queues: topologyQueues(consumer.topology), exchanges: [exchange] }),
      );
      cleanup.add('consumer', () => consumer.stop());
      await consumer.start();
      // txbox: every default (wake-up included); polling: wake-ups off, a short poll.
      const relayOptions = { database: databaseUrl, amqp: amqpUrl, schema, retention: { intervalMs: 0 } };
      const relay = slot
        ? createWalRelay({ ...relayOptions, slot })
        : createRelay({ ...relayOptions, ...(polling ? { listen: false, pollIntervalMs } : {}) });
      cleanup.add('relay', () => relay.stop());
      await relay.start();
      const outbox = createOutbox({
        contracts: [Ping],
        schema,
        exchange,
        ...(polling ? { notify: false } : {}),
        ...(wal ? { mode: /** @type {const} */ ('wal') } : {}),
      });
      write = async (client, n) => {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${business} (n, written_at) VALUES ($1, $2)`, [n, nowMs()]);
        const id = await outbox.add(client, Ping.create({ n, writtenAt: nowMs() }));
        await client.query('COMMIT');
        onCommitted(id);
      };
    }
    // Open connections before the clock starts.
    await Promise.all(Array.from({ length: producers }, () => pool.connect())).then((cs) => {
      for (const c of cs) c.release();
    });

    let sent = 0;
    let failed = 0;
    let lagMax = 0;
    /** @type {Set<Promise<void>>} */
    const inFlight = new Set();
    /** @param {number} n */
    const send = async (n) => {
      const client = await pool.connect();
      try {
        await write(client, n);
      } catch (error) {
        failed += 1;
        await client.query('ROLLBACK').catch(() => {});
        log(`  latency producer error: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        client.release();
      }
    };
    const meter = cpuMeter();
    const t0 = nowMs();
    measuredFrom = t0 + warmupMs;
    const total = Math.round((rate * durationMs) / 1000);
    const intervalMs = 1000 / rate;
    while (sent < total) {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
      lagMax = Math.max(lagMax, now - (t0 + (due - 1) * intervalMs));
      while (sent < due) {
        const p = send(sent++);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      const next = t0 + sent * intervalMs;
      await sleep(Math.max(0, Math.floor(next - nowMs())));
    }
    const offeredMs = nowMs() - t0;
    await Promise.all(inFlight);
    await waitUntil(`${mode}: every message handled`, () => handledCount >= committedCount, {
      timeoutMs: 60_000,
      intervalMs: 20,
    }).catch((error) => log(`  ${error.message}`));
    const cpu = meter.stop();
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${effects}`);
    return {
      mode,
      rate,
      offeredPerSec: perSec(total, offeredMs),
      sent: total,
      failed,
      committed: committedCount,
      handled: handledCount,
      effects: rows[0].n,
      schedulerLagMaxMs: Math.round(lagMax),
      ...summarize(latencies),
      cpu,
    };
  } finally {
    await cleanup.run(log);
  }
}

/**
 * The dual-write baseline's consumer: consume, BEGIN; INSERT; COMMIT, ack — `concurrency` at
 * once, prefetch concurrency × 4. Returns its stop function.
 * @param {{ connection: import('amqplib').ChannelModel, pool: import('pg').Pool, queue: string, effects: string,
 *   concurrency: number, onHandled: (id: string | undefined) => void }} options
 */
async function handWrittenConsumer({ connection, pool, queue, effects, concurrency, onHandled }) {
  const channel = await openChannel(connection);
  await channel.prefetch(concurrency * 4);
  /** @type {import('amqplib').ConsumeMessage[]} */
  const waiting = [];
  let running = 0;
  /** @param {import('amqplib').ConsumeMessage} first */
  const work = async (first) => {
    running += 1;
    const client = await pool.connect();
    try {
      /** @type {import('amqplib').ConsumeMessage | undefined} */
      let m = first;
      while (m) {
        const { n, writtenAt } = JSON.parse(m.content.toString());
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${effects} (n, written_at) VALUES ($1, $2)`, [n, writtenAt]);
        await client.query('COMMIT');
        onHandled(m.properties.messageId);
        channel.ack(m);
        m = waiting.shift();
      }
    } finally {
      client.release();
      running -= 1;
    }
  };
  await channel.consume(queue, (m) => {
    if (!m) return;
    if (running < concurrency) void work(m);
    else waiting.push(m);
  });
  return () => channel.close().catch(() => {});
}
