// @ts-check
// 3. inbox — consume N messages with a handler that inserts one row (createConsumer with its
// default options, in this process), and with one transaction per delivery (batch.maxMessages 1,
// context). Ceilings, same messages and concurrency:
//   raw consume: amqplib consume + ack, no database, same prefetch;
//   raw tx: one INSERT per transaction (BEGIN; INSERT; COMMIT) on `concurrency` connections;
//   hand-written consumer: raw consume, BEGIN; INSERT; COMMIT, ack — what the inbox replaces,
//   minus dedup, validation and retries.
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
  publishConfirmed,
  queueDepth,
  ratio,
  topologyQueues,
  uniqueName,
  waitUntil,
} from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { profiled } from '../lib/profiler.mjs';

/**
 * @typedef {object} InboxSettings
 * @property {number} messages
 * @property {number} payloadBytes
 * @property {number} concurrency
 * @property {number} [repeats] rounds (default 1); the best round of each counts
 * @property {boolean} [single] also measure one transaction per delivery (batch.maxMessages 1); default true
 * @property {number} [prefetch] for the baselines and the single design; default concurrency × 4 (the
 *   inbox's default design runs with its own default prefetch)
 */

/** @typedef {import('../lib/cpu.mjs').CpuSplit} CpuSplit */

/**
 * One round of the inbox or of a baseline (`notProcessed`: inbox only).
 * @typedef {{ msgsPerSec: number | null, ms: number, notProcessed?: number, cpu: CpuSplit | null }} Round
 */

/** @type {{ full: InboxSettings, quick: InboxSettings }} */
export const defaults = {
  full: { messages: 20_000, payloadBytes: 1000, concurrency: 8, repeats: 2, single: true },
  quick: { messages: 5_000, payloadBytes: 1000, concurrency: 8, repeats: 1, single: true },
};

/** @param {import('../lib/common.mjs').ScenarioOptions<InboxSettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, amqpUrl = AMQP_URL, log = () => {} }) {
  const { messages: n, payloadBytes, concurrency, repeats = 1, single = true } = settings;
  const prefetch = settings.prefetch ?? concurrency * 4;
  const schema = uniqueName('bench_inbox');
  const group = schema.replace('_', '.');
  const exchange = `${group}.events`;
  const rawQueue = `${group}.raw`;
  const cleanup = new CleanupStack();
  const pool = newPool(concurrency + 2, databaseUrl);
  cleanup.add('pool', () => pool.end());
  const connection = await connectAmqp(amqpUrl);
  cleanup.add('amqp connection', () => connection.close().catch(() => {}));
  try {
    await migrateInbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(pool, schema));
    const effects = `"${schema}".effects`;
    await pool.query(`CREATE TABLE ${effects} (message_id text NOT NULL, i integer NOT NULL)`);
    const rawEffects = `"${schema}".raw_effects`;
    await pool.query(`CREATE TABLE ${rawEffects} (message_id text NOT NULL, i integer NOT NULL)`);

    /** @param {'default' | 'single'} design */
    const makeConsumer = (design = 'default') =>
      createConsumer({
        group,
        database: databaseUrl,
        amqp: amqpUrl,
        schema,
        exchange,
        concurrency,
        // The default design: adaptive batches and the prefetch that fills them.
        ...(design === 'single' ? { prefetch, batch: { maxMessages: 1 } } : {}),
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
    const topology = makeConsumer().topology;
    cleanup.add('topology', () =>
      deleteAmqp(connection, { queues: [...topologyQueues(topology), rawQueue], exchanges: [exchange] }),
    );
    const admin = await openChannel(connection);
    await declareTopology(admin, topology);
    await admin.assertQueue(rawQueue, { durable: true });
    const publisher = await openChannel(connection, true);
    cleanup.add('publisher', () => publisher.close().catch(() => {}));
    const fresh = () => Array.from({ length: n }, (_, i) => encodeBlob(newId(), i, payloadBytes));

    // Raw consume + ack ceiling (no database).
    const measureRawConsume = async () => {
      await publishConfirmed(publisher, '', rawQueue, fresh(), 2000);
      const ch = await openChannel(connection);
      await ch.prefetch(prefetch);
      let got = 0;
      const meter = cpuMeter();
      const t0 = performance.now();
      await ch.consume(rawQueue, (m) => {
        if (!m) return;
        ch.ack(m);
        got += 1;
      });
      await waitUntil('raw consume', () => got >= n, { timeoutMs: 120_000, intervalMs: 2 });
      const ms = performance.now() - t0;
      const cpu = meter.stop();
      await ch.close();
      return { msgsPerSec: perSec(n, ms), ms: Math.round(ms), cpu };
    };

    // Raw one-insert-per-transaction ceiling, same concurrency.
    const measureRawTx = async () => {
      const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
      let next = 0;
      const meter = cpuMeter();
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          for (let i = next++; i < n; i = next++) {
            await client.query('BEGIN');
            await client.query(`INSERT INTO ${rawEffects} (message_id, i) VALUES ($1, $2)`, [newId(), i]);
            await client.query('COMMIT');
          }
        }),
      );
      const ms = performance.now() - t0;
      const cpu = meter.stop();
      for (const c of clients) c.release();
      return { msgsPerSec: perSec(n, ms), ms: Math.round(ms), cpu };
    };

    // Hand-written consumer: consume, one-insert transaction, ack; `concurrency` at once.
    const measureHandWritten = async () => {
      await publishConfirmed(publisher, '', rawQueue, fresh(), 2000);
      const ch = await openChannel(connection);
      await ch.prefetch(prefetch);
      const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
      /** @type {import('amqplib').ConsumeMessage[]} */
      const waiting = [];
      let done = 0;
      /**
       * @param {import('pg').PoolClient} client
       * @param {import('amqplib').ConsumeMessage} first
       */
      const work = async (client, first) => {
        /** @type {import('amqplib').ConsumeMessage | undefined} */
        let m = first;
        while (m) {
          await client.query('BEGIN');
          await client.query(`INSERT INTO ${rawEffects} (message_id, i) VALUES ($1, $2)`, [m.properties.messageId, 0]);
          await client.query('COMMIT');
          ch.ack(m);
          done += 1;
          m = waiting.shift();
        }
        clients.push(client);
      };
      const meter = cpuMeter();
      const t0 = performance.now();
      await ch.consume(rawQueue, (m) => {
        if (!m) return;
        const client = clients.pop();
        if (client) void work(client, m);
        else waiting.push(m);
      });
      await waitUntil('hand-written consumer', () => done >= n, { timeoutMs: 120_000, intervalMs: 2 });
      const ms = performance.now() - t0;
      const cpu = meter.stop();
      await ch.close();
      for (const c of clients) c.release();
      return { msgsPerSec: perSec(n, ms), ms: Math.round(ms), cpu };
    };

    // txbox inbox: the same kind of messages, queued before the consumer starts.
    /**
     * @param {number} repeat round number (names the CPU profile)
     * @param {'default' | 'single'} design
     */
    const measureInbox = async (repeat, design = 'default') => {
      await publishConfirmed(publisher, exchange, Blob.type, fresh(), 2000);
      const consumer = makeConsumer(design);
      cleanup.add('consumer', () => consumer.stop());
      let processed = 0;
      let other = 0;
      /** @param {unknown} message */
      const onProcessed = (message) => {
        const e = /** @type {import('@txbox/inbox').InboxMessageEvent} */ (message);
        if (e.group === group) processed += 1;
      };
      /** @param {unknown} message */
      const onOther = (message) => {
        const e = /** @type {import('@txbox/inbox').InboxMessageEvent} */ (message);
        if (e.group === group) other += 1;
      };
      const others = [INBOX_CHANNELS.duplicate, INBOX_CHANNELS.retried, INBOX_CHANNELS.deadLettered];
      diagnosticsChannel.subscribe(INBOX_CHANNELS.processed, onProcessed);
      for (const c of others) diagnosticsChannel.subscribe(c, onOther);
      const meter = cpuMeter();
      const t0 = performance.now();
      try {
        await profiled(`inbox-consumer${design === 'single' ? '-single' : ''}-${repeat}`, async () => {
          await consumer.start();
          await waitUntil('inbox consume', () => processed + other >= n, { timeoutMs: 300_000, intervalMs: 2 });
        });
      } finally {
        diagnosticsChannel.unsubscribe(INBOX_CHANNELS.processed, onProcessed);
        for (const c of others) diagnosticsChannel.unsubscribe(c, onOther);
      }
      const ms = performance.now() - t0;
      const cpu = meter.stop();
      await consumer.stop();
      return { msgsPerSec: perSec(n, ms), ms: Math.round(ms), notProcessed: other, cpu };
    };

    // Rounds interleave txbox and its baselines; the best of each counts.
    /** @type {Record<'rawConsume' | 'rawTx' | 'handWritten' | 'inbox' | 'single', Round[]>} */
    const rounds = { rawConsume: [], rawTx: [], handWritten: [], inbox: [], single: [] };
    for (let rep = 0; rep < repeats; rep++) {
      rounds.rawConsume.push(await measureRawConsume());
      rounds.rawTx.push(await measureRawTx());
      rounds.handWritten.push(await measureHandWritten());
      rounds.inbox.push(await measureInbox(rep));
      if (single) rounds.single.push(await measureInbox(rep, 'single'));
      log(
        `  inbox round ${rep + 1}: txbox ${rounds.inbox.at(-1)?.msgsPerSec} msg/s` +
          (single ? `, one tx per delivery: ${rounds.single.at(-1)?.msgsPerSec} msg/s` : '') +
          `; raw 1-insert tx ${rounds.rawTx.at(-1)?.msgsPerSec}/s, ` +
          `raw consume+ack ${rounds.rawConsume.at(-1)?.msgsPerSec}/s, hand-written ${rounds.handWritten.at(-1)?.msgsPerSec}/s`,
      );
    }
    await publisher.close();
    await admin.close();
    /**
     * The best round, with every round's msg/s.
     * @param {Round[]} list
     * @returns {Round & { rounds: (number | null)[] }}
     */
    const best = (list) => ({
      ...list.reduce((a, b) => ((b.msgsPerSec ?? 0) > (a.msgsPerSec ?? 0) ? b : a)),
      rounds: list.map((x) => x.msgsPerSec),
    });
    const inbox = best(rounds.inbox);
    const rawTx = best(rounds.rawTx);
    const rawConsume = best(rounds.rawConsume);
    const handWritten = best(rounds.handWritten);
    const singleBest = single ? best(rounds.single) : undefined;
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${effects}`);
    const left = await queueDepth(connection, topology.queue);
    return {
      messages: n,
      payloadBytes,
      concurrency,
      prefetch,
      repeats,
      msgsPerSec: inbox.msgsPerSec,
      effects: rows[0].n,
      expectedEffects: n * repeats * (single ? 2 : 1),
      leftInQueue: left,
      rawTxPerSec: rawTx.msgsPerSec,
      rawConsumePerSec: rawConsume.msgsPerSec,
      handWrittenPerSec: handWritten.msgsPerSec,
      // Targets (default options): ≥ 1 of raw one-insert transactions and of the hand-written consumer.
      ratio: ratio(inbox.msgsPerSec, rawTx.msgsPerSec),
      ratioToRawConsume: ratio(inbox.msgsPerSec, rawConsume.msgsPerSec),
      ratioToHandWritten: ratio(inbox.msgsPerSec, handWritten.msgsPerSec),
      // One transaction per delivery (batch.maxMessages 1): same messages, same concurrency.
      singlePerSec: singleBest?.msgsPerSec ?? null,
      singleRatio: singleBest ? ratio(singleBest.msgsPerSec, rawTx.msgsPerSec) : null,
      singleToHandWritten: singleBest ? ratio(singleBest.msgsPerSec, handWritten.msgsPerSec) : null,
      inbox,
      single: singleBest,
      rawTx,
      rawConsume,
      handWritten,
    };
  } finally {
    await cleanup.run(log);
  }
}
