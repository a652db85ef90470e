// @ts-check
// Shared helpers of the benchmark scenarios: service URLs, unique names, cleanup, percentiles,
// the message contracts and AMQP/PostgreSQL plumbing. No dependency beyond what the workspace has.
import { randomBytes, randomUUID } from 'node:crypto';
import { defineMessage, encodeAmqpMessage } from '@txbox/core';
import amqp from 'amqplib';
import pg from 'pg';
import { z } from 'zod';

export const DATABASE_URL = process.env.TXBOX_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const AMQP_URL = process.env.TXBOX_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

/**
 * What run.mjs (and the bench test) passes to a scenario's `run()`: its settings, the services
 * (default: the URLs above) and where progress lines go (default: nowhere).
 * @template Settings
 * @typedef {object} ScenarioOptions
 * @property {Settings} settings
 * @property {string} [databaseUrl]
 * @property {string} [amqpUrl]
 * @property {(message: string) => void} [log]
 */

/**
 * `value`, which this code put there itself (an entry of a list or record it filled), so
 * `undefined` is a bug: throws naming `what` instead of failing later on `undefined.x`.
 * @template T
 * @param {T | undefined} value
 * @param {string} what
 * @returns {T}
 */
export function present(value, what) {
  if (value === undefined) throw new Error(`bench: ${what} is missing`);
  return value;
}

/** `prefix_<8 random [a-z0-9]>`: a valid unquoted PostgreSQL identifier and AMQP name. */
/** @param {string} prefix */
export function uniqueName(prefix) {
  let suffix = '';
  while (suffix.length < 8) {
    suffix += randomBytes(8)
      .toString('base64')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '');
  }
  return `${prefix}_${suffix.slice(0, 8)}`;
}

export { sleep, waitUntil } from '../../../test-support/wait.mjs';

/** Wall-clock milliseconds comparable across the whole process (timeOrigin + performance.now()). */
export const nowMs = () => performance.timeOrigin + performance.now();

import { CleanupStack } from '../../../test-support/cleanup-stack.mjs';

export { CleanupStack };

/**
 * Percentiles by nearest rank over a sorted numeric array; null when it is empty.
 * @param {ArrayLike<number>} sorted
 * @param {number} p
 * @returns {number | null}
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

/** @param {Iterable<number>} values durations in ms */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    p50Ms: round(percentile(sorted, 50), 2),
    p95Ms: round(percentile(sorted, 95), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    maxMs: round(n ? (sorted[n - 1] ?? null) : null, 2),
    meanMs: round(n ? sum / n : null, 2),
  };
}

/**
 * @param {number | null | undefined} value
 * @returns {number | null} null for a value that is missing or not finite
 */
export function round(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * @param {number} count
 * @param {number} ms
 */
export function perSec(count, ms) {
  return ms > 0 ? Math.round((count * 1000) / ms) : null;
}

/**
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 */
export function ratio(a, b, digits = 2) {
  return a && b ? round(a / b, digits) : null;
}

// ---- contracts -----------------------------------------------------------------------------

/** ~1 KB messages for the relay, inbox and dedup scenarios. */
export const Blob = defineMessage({
  type: 'bench.blob',
  version: 1,
  schema: z.object({ i: z.number().int(), data: z.string() }),
});

/** The write scenario's domain event. */
export const OrderPlaced = defineMessage({
  type: 'bench.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
});

/** The latency scenario's message: carries the producer's timestamps. */
export const Ping = defineMessage({
  type: 'bench.ping',
  version: 1,
  schema: z.object({ n: z.number().int(), writtenAt: z.number() }),
});

/** A payload whose JSON is `bytes` long (for the given index width). */
/**
 * @param {number} i
 * @param {number} bytes
 */
export function blobPayload(i, bytes) {
  const base = JSON.stringify({ i, data: '' }).length;
  return { i, data: 'x'.repeat(Math.max(0, bytes - base)) };
}

/**
 * The txbox wire encoding of a Blob, as a relay would publish it (same id = a redelivery); with a
 * key, it carries x-txbox-key and x-txbox-partition-key as a keyed message does.
 * @param {string} id
 * @param {number} i
 * @param {number} bytes
 * @param {string | null} [key]
 */
export function encodeBlob(id, i, bytes, key = null) {
  return encodeAmqpMessage({
    id,
    type: Blob.type,
    version: 1,
    occurredAt: new Date(),
    key,
    correlationId: null,
    causationId: null,
    traceparent: null,
    tracestate: null,
    headers: {},
    payload: blobPayload(i, bytes),
  });
}

export const newId = () => randomUUID();

// ---- plumbing ------------------------------------------------------------------------------

/** @param {number} max */
export function newPool(max, url = DATABASE_URL) {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'txbox-bench' });
  pool.on('error', () => {});
  return pool;
}

export async function connectAmqp(url = AMQP_URL) {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: 'txbox-bench' } });
  connection.on('error', () => {});
  return connection;
}

/** A channel whose errors (e.g. deleting what is gone) fail the call, not the process. */
/**
 * @overload
 * @param {import('amqplib').ChannelModel} connection
 * @param {true} confirm
 * @returns {Promise<import('amqplib').ConfirmChannel>}
 */
/**
 * @overload
 * @param {import('amqplib').ChannelModel} connection
 * @param {false} [confirm]
 * @returns {Promise<import('amqplib').Channel>}
 */
/**
 * @param {import('amqplib').ChannelModel} connection
 * @param {boolean} [confirm]
 */
export async function openChannel(connection, confirm = false) {
  const channel = confirm ? await connection.createConfirmChannel() : await connection.createChannel();
  channel.on('error', () => {});
  return channel;
}

/**
 * Publishes pre-encoded messages on a confirm channel, keeping at most `window` unconfirmed,
 * honouring write back-pressure. Resolves when every message is confirmed.
 * @param {import('amqplib').ConfirmChannel} channel
 * @param {string} exchange
 * @param {string} routingKey
 * @param {Iterable<{ content: Buffer, properties: import('amqplib').Options.Publish }>} encoded
 */
export async function publishConfirmed(channel, exchange, routingKey, encoded, window = 1000) {
  let outstanding = 0;
  /** @type {Error | undefined} */
  let failed;
  /** @type {(() => void) | undefined} */
  let wake;
  /** @param {unknown} err */
  const settle = (err) => {
    outstanding -= 1;
    if (err) failed ??= err instanceof Error ? err : new Error('nacked');
    wake?.();
  };
  /** @param {number} limit */
  const waitBelow = async (limit) => {
    while (outstanding > limit) {
      await new Promise((/** @type {(value?: unknown) => void} */ resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  };
  for (const { content, properties } of encoded) {
    outstanding += 1;
    const ok = channel.publish(exchange, routingKey, content, properties, settle);
    if (!ok) await new Promise((resolve) => channel.once('drain', resolve));
    if (outstanding >= window) await waitBelow(window / 2);
  }
  await waitBelow(0);
  if (failed) throw failed;
}

/**
 * Deletes queues and exchanges, ignoring what is already gone (each on a fresh channel). If the
 * given connection is dead (broker restarted), uses a new one.
 */
/**
 * @param {import('amqplib').ChannelModel} connection
 * @param {{ queues?: readonly string[], exchanges?: readonly string[] }} topology
 */
export async function deleteAmqp(connection, { queues = [], exchanges = [] }, url = AMQP_URL) {
  let conn = connection;
  let own = false;
  const channel = async () => {
    try {
      return await openChannel(conn);
    } catch {
      if (own) throw new Error('cannot open a channel to delete the topology');
      conn = await connectAmqp(url);
      own = true;
      return openChannel(conn);
    }
  };
  try {
    for (const queue of queues) {
      const ch = await channel();
      await ch.deleteQueue(queue).catch(() => {});
      await ch.close().catch(() => {});
    }
    for (const exchange of exchanges) {
      const ch = await channel();
      await ch.deleteExchange(exchange).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    if (own) await conn.close().catch(() => {});
  }
}

/**
 * What a scenario starts with: a schema name of its own, a cleanup stack, a small pool and a broker
 * connection (both closed by the stack, last). The caller migrates the schema and registers its drop.
 * @param {{ prefix: string, poolSize: number, databaseUrl: string, amqpUrl: string }} o
 */
export async function openScenario({ prefix, poolSize, databaseUrl, amqpUrl }) {
  const schema = uniqueName(prefix);
  const cleanup = new CleanupStack();
  const pool = newPool(poolSize, databaseUrl);
  cleanup.add('pool', () => pool.end());
  try {
    const connection = await connectAmqp(amqpUrl);
    cleanup.add('amqp connection', () => connection.close().catch(() => {}));
    return { schema, cleanup, pool, connection };
  } catch (error) {
    await cleanup.run(() => {});
    throw error;
  }
}

/**
 * @param {pg.Pool} pool
 * @param {string} schema
 */
export async function dropSchema(pool, schema) {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * @param {import('amqplib').ChannelModel} connection
 * @param {string} queue
 */
export async function queueDepth(connection, queue) {
  const ch = await openChannel(connection);
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * Every queue of an inbox consumer group.
 * @param {import('@txbox/inbox').GroupTopology} topology
 */
export function topologyQueues(topology) {
  return [topology.queue, topology.deadLetterQueue, ...topology.delayQueues.map((d) => d.name)];
}
