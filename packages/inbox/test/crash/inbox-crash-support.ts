/**
 * Helpers of the inbox crash-safety and concurrency tests (on top of test-support): the test
 * contract, an effects table without any unique constraint (a double application shows as two
 * rows) and raw AMQP publishing in the txbox wire format.
 */
import { defineMessage } from '@txbox/core';
import type { Channel, ChannelModel } from 'amqplib';
import type pg from 'pg';
import { z } from 'zod';

/** Same type, version and schema as the contract of consumer-child.mjs. */
export const CrashApplied = defineMessage({
  type: 'crash.inbox.applied',
  version: 1,
  schema: z.object({ n: z.number().int() }),
});

export function effectsTable(schema: string): string {
  return `"${schema}".effects`;
}

/** A plain table: no primary key, no unique constraint. Create it after migrateInbox (which creates the schema). */
export async function createEffectsTable(pool: pg.Pool, schema: string): Promise<string> {
  const table = effectsTable(schema);
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (message_id text NOT NULL, applied_by text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  return table;
}

/** The handler's effect, written with the handler's transaction client. */
export const INSERT_EFFECT = (table: string) => `INSERT INTO ${table} (message_id, applied_by) VALUES ($1, $2)`;

export async function effectRows(pool: pg.Pool, schema: string, id: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${effectsTable(schema)} WHERE message_id = $1`,
    [id],
  );
  return rows[0]?.n ?? 0;
}

/** Effect rows per message id. */
export async function effectCounts(pool: pg.Pool, schema: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ message_id: string; n: number }>(
    `SELECT message_id, count(*)::int AS n FROM ${effectsTable(schema)} GROUP BY message_id`,
  );
  return new Map(rows.map((r) => [r.message_id, r.n]));
}

export async function totalEffects(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${effectsTable(schema)}`);
  return rows[0]?.n ?? 0;
}

export async function inboxRecords(pool: pg.Pool, schema: string, group: string, id?: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}".inbox WHERE consumer_group = $1 AND ($2::text IS NULL OR message_id = $2)`,
    [group, id ?? null],
  );
  return rows[0]?.n ?? 0;
}

/** A confirm channel of the test's own connection, for publishing. */
export async function openPublisher(connection: ChannelModel) {
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => {});
  return channel;
}

/**
 * Publishes a delivery in the txbox wire format straight to the exchange (routing key = type).
 * Publishing the same id again is what a redelivery or a duplicate from the producer looks like.
 */
export function publishRaw(channel: Channel, exchange: string, id: string, n: number): void {
  channel.publish(exchange, CrashApplied.type, Buffer.from(JSON.stringify({ n })), {
    messageId: id,
    type: CrashApplied.type,
    headers: { 'x-txbox-version': 1 },
    contentType: 'application/json',
    persistent: true,
  });
}
