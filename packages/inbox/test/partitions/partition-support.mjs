// @ts-check
// What the partitioned-consumption tests share with their child-process consumer: the contract,
// the consumer's options and the handler that records each application with what it saw before.
//
// The handler reads, inside its own transaction, the last sequence number applied for its key and
// stores it next to its own. Under READ COMMITTED a handler running while an earlier message of
// its key is still uncommitted elsewhere reads a stale value, so `prev_seq = seq - 1` on every row
// is exactly "each key applied in order, one at a time" — the guarantee under test.
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler } from '@txbox/inbox';
import { z } from 'zod';

export const KeyedStep = defineMessage({
  type: 'partitions.keyed-step',
  version: 1,
  schema: z.object({ key: z.string(), seq: z.number().int().min(1) }),
});

/** @param {string} schema */
export const appliedTable = (schema) => `"${schema}".applied`;

/** @param {import('pg').Pool} pool @param {string} schema */
export async function createAppliedTable(pool, schema) {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${appliedTable(schema)} (message_id text NOT NULL, key text NOT NULL, seq int NOT NULL, prev_seq int NOT NULL, instance text NOT NULL)`,
  );
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A partitioned consumer of the test group.
 * @param {{ group: string; database: string; amqp: string; schema: string; exchange: string; instance: string;
 *   partitions: number; pauseMs?: number; logger?: import('@txbox/core').TxboxLogger }} o
 */
export function partitionedConsumer(o) {
  const table = appliedTable(o.schema);
  return createConsumer({
    group: o.group,
    database: o.database,
    amqp: o.amqp,
    schema: o.schema,
    exchange: o.exchange,
    concurrency: 4,
    retention: { intervalMs: 0 },
    partitions: { count: o.partitions, rebalanceIntervalMs: 100, leaseMs: 2000 },
    ...(o.logger ? { logger: o.logger } : {}),
    handlers: [
      defineHandler(KeyedStep, async ({ key, seq }, ctx) => {
        const { rows } = await ctx.client.query(`SELECT coalesce(max(seq), 0) AS prev FROM ${table} WHERE key = $1`, [
          key,
        ]);
        // An I/O-like pause inside the transaction widens every window a reordering could use.
        await sleep(o.pauseMs ?? 2);
        await ctx.client.query(
          `INSERT INTO ${table} (message_id, key, seq, prev_seq, instance) VALUES ($1, $2, $3, $4, $5)`,
          [ctx.envelope.id, key, seq, rows[0].prev, o.instance],
        );
      }),
    ],
  });
}
