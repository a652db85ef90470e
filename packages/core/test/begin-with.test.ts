// beginWith: BEGIN and a transaction's first statement in one round trip (one Sync, so one
// ReadyForQuery), with the statement's bound parameters and prepared name, and the same
// failure semantics as two separate statements.
import { beginWith } from '@txbox/core/internal';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestSchema } from '../../../test-support/index.js';

const { schema, pool } = useTestSchema('core_begin_with');
let table: string;

beforeAll(async () => {
  table = `"${schema}".items`;
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, label text NOT NULL)`);
});

/** Counts the ReadyForQuery messages the server sends while `fn` runs: one per round trip. */
async function roundTrips(client: pg.PoolClient, fn: () => Promise<unknown>): Promise<number> {
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  let count = 0;
  const onReady = () => {
    count += 1;
  };
  connection.on('readyForQuery', onReady);
  try {
    await fn();
  } finally {
    connection.off('readyForQuery', onReady);
  }
  return count;
}

describe('beginWith (BEGIN and the first statement in one round trip)', () => {
  it('opens a transaction and runs a prepared statement with bound values in one round trip; rollback undoes it', async () => {
    const client = await pool.connect();
    try {
      const insert = { text: `INSERT INTO ${table} (id, label) VALUES ($1, $2) RETURNING label`, name: `bw_${schema}` };
      let rows: { label: string }[] = [];
      const trips = await roundTrips(client, async () => {
        ({ rows } = await beginWith<{ label: string }>(client, { ...insert, values: [1, "it's bound"] }));
      });
      expect(trips).toBe(1);
      expect(rows).toEqual([{ label: "it's bound" }]);
      expect(client.getTransactionStatus?.()).toBe('T');
      await client.query('ROLLBACK');
      const { rows: left } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(left[0].n).toBe(0);

      // Again on the same connection: the prepared statement is reused, the transaction commits.
      const again = await roundTrips(client, () => beginWith(client, { ...insert, values: [2, 'two'] }));
      expect(again).toBe(1);
      await client.query('COMMIT');
      const { rows: committed } = await pool.query(`SELECT label FROM ${table}`);
      expect(committed).toEqual([{ label: 'two' }]);
    } finally {
      client.release();
    }
  });

  it('a failing statement rejects and leaves the transaction open and failed, as a second statement would', async () => {
    const client = await pool.connect();
    try {
      await expect(
        beginWith(client, { text: `INSERT INTO ${table} (id, label) VALUES ($1, $2)`, values: [3, null] }),
      ).rejects.toThrow(/null value/);
      expect(client.getTransactionStatus?.()).toBe('E');
      await client.query('ROLLBACK');
      expect(client.getTransactionStatus?.()).toBe('I');
      // The connection is fine afterwards.
      const { rows } = await client.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
  });

  it('a statement without values or a name still goes out in the same round trip', async () => {
    const client = await pool.connect();
    try {
      const trips = await roundTrips(client, () =>
        beginWith(client, { text: `SELECT count(*)::int AS n FROM ${table}`, values: [] }),
      );
      expect(trips).toBe(1);
      expect(client.getTransactionStatus?.()).toBe('T');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
