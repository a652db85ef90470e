// @ts-check
// 5. end-to-end latency — commit → handler committed, at a fixed offered load (open loop:
// message k is due at start + k / rate, whatever happened before), through a relay and an
// inbox consumer running in this process. Two modes: LISTEN/NOTIFY wake-up (writer notify on,
// relay listen on, default poll as backstop) and polling only (notify off, listen off).
//
// Timing: the producer takes t_commit = performance.timeOrigin + performance.now() when its
// COMMIT returns and keeps it by message id (the payload also carries the time the row was
// written, before COMMIT). The handler-committed time is taken in a subscriber of the
// `txbox:inbox:processed` diagnostics channel, which the consumer publishes right after the
// handler's transaction commits. Same process, same clock.
import diagnosticsChannel from 'node:diagnostics_channel';
import { createConsumer, defineHandler, INBOX_CHANNELS, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import {
  AMQP_URL,
  CleanupStack,
  connectAmqp,
  DATABASE_URL,
  deleteAmqp,
  dropSchema,
  newPool,
  nowMs,
  Ping,
  perSec,
  present,
  sleep,
  summarize,
  topologyQueues,
  uniqueName,
  waitUntil,
} from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';

/** @typedef {'notify' | 'polling'} LatencyMode */

/**
 * @typedef {object} LatencySettings
 * @property {number} rate offered load, messages per second
 * @property {number} durationMs offered for this long, per mode
 * @property {number} warmupMs messages committed before this are not measured
 * @property {number} pollIntervalMs the relay's poll interval in the polling mode
 * @property {number} producers connections the producer commits on
 * @property {number} concurrency the consumer's
 * @property {LatencyMode[]} [modes] default both, NOTIFY first
 */

/** @type {{ full: LatencySettings, quick: LatencySettings }} */
export const defaults = {
  full: { rate: 500, durationMs: 20_000, warmupMs: 1000, pollIntervalMs: 100, producers: 16, concurrency: 8 },
  quick: { rate: 500, durationMs: 5_000, warmupMs: 500, pollIntervalMs: 100, producers: 16, concurrency: 8 },
};

/** @param {import('../lib/common.mjs').ScenarioOptions<LatencySettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  /** @type {LatencyMode[]} */
  const modes = settings.modes ?? ['notify', 'polling'];
  /** @type {{ rate: number, durationMs: number, pollIntervalMs: number } & { [mode in LatencyMode]?: ModeResult }} */
  const out = { rate: settings.rate, durationMs: settings.durationMs, pollIntervalMs: settings.pollIntervalMs };
  for (const mode of modes) {
    out[mode] = await runMode(mode, { settings, databaseUrl, amqpUrl, log });
    const r = present(out[mode], `the ${mode} result`);
    log(`  latency ${mode}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, p99 ${r.p99Ms} ms (${r.count} messages)`);
  }
  const headline = present(out.notify ?? (modes[0] && out[modes[0]]), 'a latency mode');
  return { p50Ms: headline.p50Ms, p95Ms: headline.p95Ms, p99Ms: headline.p99Ms, ...out };
}

/** @typedef {Awaited<ReturnType<typeof runMode>>} ModeResult */

/**
 * @param {LatencyMode} mode
 * @param {{ settings: LatencySettings, databaseUrl: string, amqpUrl: string, log: (message: string) => void }} options
 */
async function runMode(mode, { settings, databaseUrl, amqpUrl, log }) {
  const { rate, durationMs, warmupMs, pollIntervalMs, producers, concurrency } = settings;
  const notify = mode === 'notify';
  const schema = uniqueName(`bench_lat_${mode}`);
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
    if (event.group !== group) return;
    handledCount += 1;
    const handledAt = nowMs();
    const commitAt = commits.get(event.id);
    if (commitAt === undefined) handled.set(event.id, handledAt);
    else {
      commits.delete(event.id);
      record(commitAt, handledAt);
    }
  };
  diagnosticsChannel.subscribe(INBOX_CHANNELS.processed, onProcessed);
  cleanup.add('subscription', () => diagnosticsChannel.unsubscribe(INBOX_CHANNELS.processed, onProcessed));
  try {
    await migrateOutbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(pool, schema));
    await migrateInbox({ database: databaseUrl, schema });
    const effects = `"${schema}".effects`;
    await pool.query(`CREATE TABLE ${effects} (n integer NOT NULL, written_at float8 NOT NULL)`);

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
    const relay = createRelay({
      database: databaseUrl,
      amqp: amqpUrl,
      schema,
      listen: notify,
      ...(notify ? {} : { pollIntervalMs }),
      retention: { intervalMs: 0 },
    });
    cleanup.add('relay', () => relay.stop());
    await relay.start();
    const outbox = createOutbox({ contracts: [Ping], schema, exchange, notify });
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
        await client.query('BEGIN');
        const id = await outbox.add(client, Ping.create({ n, writtenAt: nowMs() }));
        await client.query('COMMIT');
        const commitAt = nowMs();
        committedCount += 1;
        const handledAt = handled.get(id);
        if (handledAt === undefined) commits.set(id, commitAt);
        else {
          handled.delete(id);
          record(commitAt, handledAt);
        }
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
      listen: notify,
      writerNotify: notify,
      relayPollIntervalMs: notify ? 1000 : pollIntervalMs,
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
