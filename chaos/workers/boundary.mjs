// @ts-check
// Bad input at the API boundary, in a process of its own (a hang must not take the orchestrator
// down with it): malformed configuration, oversized and non-JSON payloads, bad message options,
// and lifecycle calls against unreachable or refusing services. Every case must end in a typed
// TxboxError with the expected code (or settle, for the lifecycle cases) within its deadline:
// never a crash, a hang or a silent write. Prints one `RESULT {json}` line per case, then `DONE`.
//   CHAOS_DATABASE_URL (the chaos database, migrated), CHAOS_AMQP_URL, CHAOS_EXCHANGE
import { defineMessage, isTxboxError } from '@txbox/core';
import { createConsumer, defineHandler } from '@txbox/inbox';
import { createOutbox, createRelay } from '@txbox/outbox';
import pg from 'pg';
import { z } from 'zod';
import { ChaosEvent } from '../lib/contracts.mjs';
import { requiredEnv } from './common.mjs';

const databaseUrl = requiredEnv('CHAOS_DATABASE_URL');
const amqpUrl = requiredEnv('CHAOS_AMQP_URL');
const exchange = requiredEnv('CHAOS_EXCHANGE');
const SECRET = 's3cr3t-pw';
const amqpHost = new URL(amqpUrl);

/** @param {Record<string, unknown>} result */
const emit = (result) => process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);

/** Rejects a case that neither resolved nor threw in time. */
class Hang extends Error {}

/**
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<never>}
 */
const timeout = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Hang(what)), ms).unref());

/**
 * The inputs here are wrong on purpose (the cases check what the runtime does with them), so the
 * type checker is told, case by case and by name, to take them as what the API declares.
 * @template T
 * @param {unknown} value
 * @returns {T}
 */
const badInput = (value) => /** @type {T} */ (value);

/**
 * @param {unknown} error
 * @returns {{ typed: boolean, name?: string, code?: unknown, message: string }}
 */
function describeError(error) {
  if (isTxboxError(error)) return { typed: true, code: error.code, message: error.message };
  const e = /** @type {{ constructor?: { name?: string }, code?: unknown, message?: unknown } | null | undefined} */ (
    error
  );
  return { typed: false, name: e?.constructor?.name, code: e?.code, message: String(e?.message ?? error) };
}

/**
 * A case passes when fn rejects/throws a TxboxError with code `expect` (and leaks no secret).
 * @param {string} area
 * @param {string} name
 * @param {string | null} expect
 * @param {() => unknown} fn
 */
async function expectCode(area, name, expect, fn, ms = 5000) {
  try {
    await Promise.race([Promise.resolve().then(fn), timeout(ms, `no answer within ${ms} ms`)]);
    emit({ area, name, ok: false, expect, got: 'no error (accepted)' });
  } catch (error) {
    if (error instanceof Hang) return emit({ area, name, ok: false, expect, got: `HANG: ${error.message}` });
    const got = describeError(error);
    const leaked = got.message.includes(SECRET);
    const ok = got.typed && got.code === expect && !leaked;
    emit({ area, name, ok, expect, got: leaked ? { ...got, leaked: 'password in message' } : got });
  }
}

/**
 * A case passes when fn settles (resolves, or rejects with a typed error) within ms.
 * @param {string} area
 * @param {string} name
 * @param {() => unknown} fn
 * @param {number} ms
 */
async function expectSettles(area, name, fn, ms) {
  try {
    const value = await Promise.race([Promise.resolve().then(fn), timeout(ms, `did not settle within ${ms} ms`)]);
    emit({ area, name, ok: true, expect: `settles within ${ms} ms`, got: value ?? 'resolved' });
  } catch (error) {
    if (error instanceof Hang)
      return emit({ area, name, ok: false, expect: `settles within ${ms} ms`, got: `HANG: ${error.message}` });
    const got = describeError(error);
    emit({ area, name, ok: got.typed, expect: `settles within ${ms} ms with a typed error`, got });
  }
}

const base = { database: databaseUrl, amqp: amqpUrl };
const Probe = defineMessage({ type: 'chaos.boundary', version: 1, schema: z.object({ s: z.string() }) });
const Anything = defineMessage({ type: 'chaos.boundary-any', version: 1, schema: z.any() });
const handler = defineHandler(Probe, () => {});

// --- configuration: relay -------------------------------------------------------------------
/** @type {[name: string, options: unknown, code: string][]} */
const relayCases = [
  ['options missing', undefined, 'CONFIGURATION_INVALID'],
  ['database not a URL', { ...base, database: 'mysql://root@127.0.0.1/x' }, 'CONFIGURATION_INVALID'],
  ['database a number', { ...base, database: 42 }, 'CONFIGURATION_INVALID'],
  [
    'database URL with password, wrong scheme',
    { ...base, database: `mysql://u:${SECRET}@h/db` },
    'CONFIGURATION_INVALID',
  ],
  ['amqp http URL', { ...base, amqp: 'http://127.0.0.1:15672' }, 'CONFIGURATION_INVALID'],
  ['amqp missing', { database: databaseUrl }, 'CONFIGURATION_INVALID'],
  ['batchSize negative', { ...base, batchSize: -1 }, 'CONFIGURATION_INVALID'],
  ['batchSize absurd', { ...base, batchSize: 1e9 }, 'CONFIGURATION_INVALID'],
  ['batchSize fractional', { ...base, batchSize: 1.5 }, 'CONFIGURATION_INVALID'],
  ['batchSize as string', { ...base, batchSize: '10' }, 'CONFIGURATION_INVALID'],
  ['batchSize NaN', { ...base, batchSize: Number.NaN }, 'CONFIGURATION_INVALID'],
  ['leaseMs Infinity', { ...base, leaseMs: Number.POSITIVE_INFINITY }, 'CONFIGURATION_INVALID'],
  ['publishTimeoutMs >= leaseMs', { ...base, leaseMs: 2000, publishTimeoutMs: 5000 }, 'CONFIGURATION_INVALID'],
  ['pollIntervalMs negative', { ...base, pollIntervalMs: -5 }, 'CONFIGURATION_INVALID'],
  ['maxInFlightBatches 0', { ...base, maxInFlightBatches: 0 }, 'CONFIGURATION_INVALID'],
  ['retention.publishedMs negative', { ...base, retention: { publishedMs: -1 } }, 'CONFIGURATION_INVALID'],
  ['retryStrategy not a function', { ...base, retryStrategy: 'exponential' }, 'CONFIGURATION_INVALID'],
  ['relayId empty', { ...base, relayId: '' }, 'CONFIGURATION_INVALID'],
  ['schema with a quote', { ...base, schema: 'txbox"; DROP TABLE x; --' }, 'IDENTIFIER_INVALID'],
  ['schema upper case', { ...base, schema: 'TxBox' }, 'IDENTIFIER_INVALID'],
  ['schema 64 characters', { ...base, schema: 'a'.repeat(64) }, 'IDENTIFIER_INVALID'],
  ['onUnroutable unknown', { ...base, onUnroutable: 'ignore' }, 'CONFIGURATION_INVALID'],
];
for (const [name, options, code] of relayCases)
  await expectCode('config:relay', name, code, () => createRelay(badInput(options)));

// --- configuration: consumer ----------------------------------------------------------------
const consumerBase = { ...base, group: 'chaos_boundary', exchange, handlers: [handler] };
/** @type {[name: string, options: unknown, code: string][]} */
const consumerCases = [
  ['options missing', undefined, 'CONFIGURATION_INVALID'],
  ['group with a space', { ...consumerBase, group: 'bad group' }, 'CONFIGURATION_INVALID'],
  ['group empty', { ...consumerBase, group: '' }, 'CONFIGURATION_INVALID'],
  ['group 201 characters', { ...consumerBase, group: 'g'.repeat(201) }, 'CONFIGURATION_INVALID'],
  ['group with a slash', { ...consumerBase, group: 'a/b' }, 'CONFIGURATION_INVALID'],
  ['database http URL', { ...consumerBase, database: 'http://x' }, 'CONFIGURATION_INVALID'],
  ['amqp not a URL', { ...consumerBase, amqp: 'nope' }, 'CONFIGURATION_INVALID'],
  ['concurrency 0', { ...consumerBase, concurrency: 0 }, 'CONFIGURATION_INVALID'],
  ['concurrency absurd', { ...consumerBase, concurrency: 1e6 }, 'CONFIGURATION_INVALID'],
  ['concurrency fractional', { ...consumerBase, concurrency: 2.5 }, 'CONFIGURATION_INVALID'],
  ['prefetch 0', { ...consumerBase, prefetch: 0 }, 'CONFIGURATION_INVALID'],
  ['prefetch above 65535', { ...consumerBase, prefetch: 70_000 }, 'CONFIGURATION_INVALID'],
  ['retry.maxAttempts 0', { ...consumerBase, retry: { maxAttempts: 0 } }, 'CONFIGURATION_INVALID'],
  ['retry.maxAttempts absurd', { ...consumerBase, retry: { maxAttempts: 1000 } }, 'CONFIGURATION_INVALID'],
  ['retry.delaysMs negative', { ...consumerBase, retry: { delaysMs: [-1] } }, 'CONFIGURATION_INVALID'],
  ['retry.delaysMs absurd', { ...consumerBase, retry: { delaysMs: [1e12] } }, 'CONFIGURATION_INVALID'],
  ['retention.processedMs negative', { ...consumerBase, retention: { processedMs: -1 } }, 'CONFIGURATION_INVALID'],
  ['stopTimeoutMs negative', { ...consumerBase, stopTimeoutMs: -1 }, 'CONFIGURATION_INVALID'],
  ['queueType unknown', { ...consumerBase, queueType: 'lazy' }, 'CONFIGURATION_INVALID'],
  ['onUnknownType unknown', { ...consumerBase, onUnknownType: 'ignore' }, 'CONFIGURATION_INVALID'],
  ['exchange amq. prefix', { ...consumerBase, exchange: 'amq.topic' }, 'IDENTIFIER_INVALID'],
  ['exchange with a space', { ...consumerBase, exchange: 'bad exchange' }, 'IDENTIFIER_INVALID'],
  ['names.queue amq. prefix', { ...consumerBase, names: { queue: 'amq.q' } }, 'IDENTIFIER_INVALID'],
  ['schema with a quote', { ...consumerBase, schema: 'x"y' }, 'IDENTIFIER_INVALID'],
  [
    'handler not a contract',
    { ...consumerBase, handlers: [{ contract: {}, handle: () => {} }] },
    'CONFIGURATION_INVALID',
  ],
  ['handler not a function', { ...consumerBase, handlers: [{ contract: Probe, handle: 42 }] }, 'CONFIGURATION_INVALID'],
  ['dataSource not a DataSource', { ...consumerBase, dataSource: {} }, 'CONFIGURATION_INVALID'],
  ['partitions.count 0', { ...consumerBase, partitions: { count: 0 } }, 'CONFIGURATION_INVALID'],
  ['partitions.count absurd', { ...consumerBase, partitions: { count: 1e6 } }, 'CONFIGURATION_INVALID'],
  ['partitions without count', { ...consumerBase, partitions: {} }, 'CONFIGURATION_INVALID'],
  [
    'partitions.leaseMs below 3 × rebalanceIntervalMs',
    { ...consumerBase, partitions: { count: 4, rebalanceIntervalMs: 1000, leaseMs: 2000 } },
    'CONFIGURATION_INVALID',
  ],
  [
    'partitions with singleActiveConsumer',
    { ...consumerBase, partitions: { count: 4 }, singleActiveConsumer: true },
    'CONFIGURATION_INVALID',
  ],
];
for (const [name, options, code] of consumerCases) {
  await expectCode('config:consumer', name, code, () => createConsumer(badInput(options)));
}

// --- configuration: writer and contracts ----------------------------------------------------
/** @type {[name: string, options: unknown, code: string][]} */
const writerCases = [
  ['contracts missing', {}, 'CONFIGURATION_INVALID'],
  ['maxPayloadBytes negative', { contracts: [Probe], maxPayloadBytes: -1 }, 'CONFIGURATION_INVALID'],
  ['maxPayloadBytes 0', { contracts: [Probe], maxPayloadBytes: 0 }, 'CONFIGURATION_INVALID'],
  [
    'maxPayloadBytes Infinity',
    { contracts: [Probe], maxPayloadBytes: Number.POSITIVE_INFINITY },
    'CONFIGURATION_INVALID',
  ],
  ['maxPayloadBytes absurd', { contracts: [Probe], maxPayloadBytes: 1e12 }, 'CONFIGURATION_INVALID'],
  ['maxPayloadBytes as string', { contracts: [Probe], maxPayloadBytes: '100' }, 'CONFIGURATION_INVALID'],
  ['schema with a dash', { contracts: [Probe], schema: 'tx-box' }, 'IDENTIFIER_INVALID'],
  ['exchange amq. prefix', { contracts: [Probe], exchange: 'amq.direct' }, 'IDENTIFIER_INVALID'],
];
for (const [name, options, code] of writerCases)
  await expectCode('config:writer', name, code, () => createOutbox(badInput(options)));
/** @type {[name: string, input: unknown][]} */
const contractCases = [
  ['type with a space', { type: 'bad type', version: 1, schema: z.object({}) }],
  ['version 0', { type: 'chaos.x', version: 0, schema: z.object({}) }],
  ['version fractional', { type: 'chaos.x', version: 1.5, schema: z.object({}) }],
  ['schema not zod', { type: 'chaos.x', version: 1, schema: {} }],
];
for (const [name, input] of contractCases) {
  await expectCode('config:contract', name, 'CONFIGURATION_INVALID', () => defineMessage(badInput(input)));
}

// --- writer: payloads and message options, in a real transaction ---------------------------
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'chaos-boundary' });
pool.on('error', () => {});
const writer = createOutbox({ contracts: [Probe, Anything, ChaosEvent], exchange, maxPayloadBytes: 1024 });
/** @type {Record<string, unknown>} */
const circular = {};
circular.self = circular;
/** @type {[name: string, message: unknown, code: string | null][]} */
const addCases = [
  ['payload over maxPayloadBytes', Probe.create({ s: 'x'.repeat(2000) }), 'PAYLOAD_TOO_LARGE'],
  ['payload failing its contract', Probe.create({ s: badInput(42) }), 'PAYLOAD_INVALID'],
  ['payload BigInt (not JSON)', Anything.create({ n: 10n }), 'MESSAGE_INVALID'],
  ['payload circular (not JSON)', Anything.create(circular), 'MESSAGE_INVALID'],
  ['payload a function (not JSON)', Anything.create(() => 1), 'MESSAGE_INVALID'],
  ['payload string with NUL (jsonb rejects it)', Probe.create({ s: 'a\u0000b' }), 'MESSAGE_INVALID'],
  ['payload lone surrogate (jsonb rejects it)', Probe.create({ s: '\ud800' }), 'MESSAGE_INVALID'],
  ['key empty', Probe.create({ s: 'a' }, { key: '' }), 'MESSAGE_INVALID'],
  ['key 600 characters', Probe.create({ s: 'a' }, { key: 'k'.repeat(600) }), 'MESSAGE_INVALID'],
  ['key a number', Probe.create({ s: 'a' }, { key: badInput(42) }), 'MESSAGE_INVALID'],
  ['delayMs negative', Probe.create({ s: 'a' }, { delayMs: -1 }), 'MESSAGE_INVALID'],
  ['delayMs NaN', Probe.create({ s: 'a' }, { delayMs: Number.NaN }), 'MESSAGE_INVALID'],
  ['delayMs absurd', Probe.create({ s: 'a' }, { delayMs: 1e15 }), 'MESSAGE_INVALID'],
  ['id not a UUID', Probe.create({ s: 'a' }, { id: 'not-a-uuid' }), 'MESSAGE_INVALID'],
  ['header reserved', Probe.create({ s: 'a' }, { headers: { 'x-txbox-key': 'k' } }), 'MESSAGE_INVALID'],
  ['header value a number', Probe.create({ s: 'a' }, { headers: { a: badInput(1) } }), 'MESSAGE_INVALID'],
  ['routingKey 300 bytes', Probe.create({ s: 'a' }, { routingKey: 'r'.repeat(300) }), 'IDENTIFIER_INVALID'],
  ['correlationId 2000 characters', Probe.create({ s: 'a' }, { correlationId: 'c'.repeat(2000) }), 'MESSAGE_INVALID'],
  ['contract not registered', ChaosEvent.create({ producer: 'b', n: 1, pad: '' }, {}), null],
  ['not a message', { hello: 'world' }, 'MESSAGE_INVALID'],
];
const unregistered = defineMessage({ type: 'chaos.unregistered', version: 1, schema: z.object({}) });
addCases[addCases.length - 2] = ['contract not registered', unregistered.create({}), 'CONTRACT_UNKNOWN'];
for (const [name, message, code] of addCases) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await expectCode('writer:add', name, code, () => writer.add(client, badInput(message)));
    // A refusal must leave the caller's transaction usable (nothing sent, nothing aborted).
    const usable = await client.query('SELECT 1').then(
      () => true,
      () => false,
    );
    if (!usable)
      emit({
        area: 'writer:add',
        name: `${name}: caller transaction still usable`,
        ok: false,
        expect: 'usable',
        got: 'transaction aborted by the refused add',
      });
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
await expectCode('writer:add', 'pool passed as the transaction', 'NOT_IN_TRANSACTION', () =>
  writer.add(pool, Probe.create({ s: 'a' })),
);
const { rows } = await pool.query("SELECT count(*)::int AS n FROM txbox.outbox WHERE type LIKE 'chaos.boundary%'");
emit({ area: 'writer:add', name: 'nothing written by refused adds', ok: rows[0].n === 0, expect: 0, got: rows[0].n });

// --- lifecycle against unreachable or refusing services -------------------------------------
const refusedAmqp = 'amqp://guest:guest@127.0.0.1:1';
const wrongPassword = `amqp://guest:${SECRET}@${amqpHost.hostname}:${amqpHost.port || 5672}`;
await expectCode('lifecycle', 'relay.start() with PostgreSQL refusing connections', 'CONNECTION_FAILED', async () => {
  const relay = createRelay({ database: 'postgres://postgres@127.0.0.1:1/x', amqp: amqpUrl });
  try {
    await relay.start();
  } finally {
    await relay.stop();
  }
});
await expectCode('lifecycle', 'relay.start() on an unmigrated schema', 'SCHEMA_NOT_MIGRATED', async () => {
  const relay = createRelay({ ...base, schema: 'chaos_not_migrated' });
  try {
    await relay.start();
  } finally {
    await relay.stop();
  }
});
await expectCode('lifecycle', 'consumer.start() on an unmigrated schema', 'SCHEMA_NOT_MIGRATED', async () => {
  const consumer = createConsumer({ ...consumerBase, schema: 'chaos_not_migrated' });
  try {
    await consumer.start();
  } finally {
    await consumer.stop();
  }
});
await expectCode('lifecycle', 'consumer.start() without handlers', 'CONFIGURATION_INVALID', async () => {
  const consumer = createConsumer({ ...consumerBase, handlers: [] });
  try {
    await consumer.start();
  } finally {
    await consumer.stop();
  }
});
// These wait on deadlines: run them side by side.
await Promise.all([
  expectSettles(
    'lifecycle',
    'relay start()+stop() with a wrong RabbitMQ password',
    async () => {
      const relay = createRelay({ ...base, amqp: wrongPassword, pollIntervalMs: 100, stopTimeoutMs: 2000 });
      await relay.start();
      await new Promise((r) => setTimeout(r, 500));
      await relay.stop();
      return 'started and stopped';
    },
    10_000,
  ),
  (async () => {
    // Wrong credentials never get better by waiting: start() must fail with a typed error.
    const consumer = createConsumer({
      ...consumerBase,
      group: 'chaos_boundary_start_0',
      amqp: wrongPassword,
      stopTimeoutMs: 2000,
    });
    const start = consumer.start();
    start.catch(() => {});
    await expectCode(
      'lifecycle',
      'consumer.start() with a wrong RabbitMQ password',
      'CONNECTION_FAILED',
      () => start,
      10_000,
    );
    await expectSettles(
      'lifecycle',
      'consumer.stop() after a start() with a wrong RabbitMQ password',
      () => consumer.stop(),
      5_000,
    );
  })(),
  (async () => {
    // A broker that is down may be waited for at start (it logs), but stop() must end the wait.
    const consumer = createConsumer({
      ...consumerBase,
      group: 'chaos_boundary_start_1',
      amqp: refusedAmqp,
      stopTimeoutMs: 2000,
    });
    const start = consumer.start();
    start.catch(() => {});
    await new Promise((r) => setTimeout(r, 1500));
    await expectSettles(
      'lifecycle',
      'consumer.stop() during a start() waiting for a broker that is down',
      () => consumer.stop(),
      5_000,
    );
    await expectSettles(
      'lifecycle',
      'consumer.start() waiting for a broker that is down, once stopped',
      () => start,
      2_000,
    );
  })(),
]);

await pool.end();
process.stdout.write('DONE\n');
process.exit(0);
