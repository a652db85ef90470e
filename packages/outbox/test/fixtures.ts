import { defineMessage } from '@txbox/core';
import type pg from 'pg';
import { z } from 'zod';

export const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int().nonnegative() }),
});

export const OrderCancelled = defineMessage({
  type: 'orders.order-cancelled',
  version: 1,
  schema: z.object({ orderId: z.string(), reason: z.string() }),
});

/** Runs `fn` in a transaction on its own client; commits, or rolls back and rethrows. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export async function outboxRowCount(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
  return rows[0].n;
}
