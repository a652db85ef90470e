import { migrateOutbox } from '@txbox/outbox';
import { outboxSql, outboxTables } from '@txbox/outbox/internal';
import type pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uniqueName, useTestSchema, waitUntil } from '../../../../test-support/index.js';
import { crashWriter, writeCommitted } from './crash-support.js';

const LEASE_MS = 1000;
const WAIT_MS = 30_000;

const db = useTestSchema('crash_fencing');
const exchange = uniqueName('crash_fencing_x');

interface Claimed {
  seq: string;
  id: string;
  lease_token: string;
}

interface Row {
  seq: string;
  lease_owner: string | null;
  lease_token: string | null;
  attempts: number;
  published_at: Date | null;
}

/** Runs the relay's claim (claim lock + claim statement) as `owner` in its own transaction. */
async function claim(pool: pg.Pool, owner: string, leaseMs: number, client?: pg.PoolClient): Promise<Claimed[]> {
  const t = outboxTables(db.schema);
  const c = client ?? (await pool.connect());
  try {
    await c.query('BEGIN');
    await c.query(outboxSql.claimLockSql(t));
    const { rows } = await c.query<Claimed>(outboxSql.claimBatchSql(t), [1000, owner, leaseMs]);
    if (!client) await c.query('COMMIT');
    return rows;
  } finally {
    if (!client) c.release();
  }
}

async function rows(pool: pg.Pool): Promise<Row[]> {
  const { rows } = await pool.query<Row>(
    `SELECT seq, lease_owner, lease_token, attempts, published_at FROM "${db.schema}".outbox ORDER BY seq`,
  );
  return rows;
}

async function deadLetterCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".outbox_dead_letter`);
  return rows[0]?.n ?? 0;
}

/** Claims as relay A with a short lease, waits (on the database clock) for it to expire, then claims as relay B. */
async function takeOver(pool: pg.Pool) {
  const a = await claim(pool, 'relay-a', LEASE_MS);
  expect(a.length).toBeGreaterThan(0);
  // While A's lease runs, nobody else can claim these messages.
  expect(await claim(pool, 'relay-b', 60_000)).toEqual([]);
  await waitUntil(
    "relay A's lease to expire",
    async () => {
      const { rows: r } = await pool.query<{ expired: boolean }>(
        `SELECT bool_and(lease_expires_at <= now()) AS expired FROM "${db.schema}".outbox WHERE lease_owner = 'relay-a'`,
      );
      return r[0]?.expired === true;
    },
    { timeoutMs: WAIT_MS, intervalMs: 100 },
  );
  const b = await claim(pool, 'relay-b', 60_000);
  const tokenA = a[0]?.lease_token as string;
  const tokenB = b[0]?.lease_token as string;
  expect(b.map((r) => r.seq).sort()).toEqual(a.map((r) => r.seq).sort());
  expect(tokenB).not.toBe(tokenA);
  return { seqs: a.map((r) => r.seq), tokenA, tokenB };
}

function heldByB(tokenB: string) {
  return (r: Row) => {
    expect(r.lease_owner).toBe('relay-b');
    expect(r.lease_token).toBe(tokenB);
    expect(r.attempts).toBe(0);
    expect(r.published_at).toBeNull();
  };
}

beforeAll(async () => {
  await migrateOutbox({ database: db.databaseUrl, schema: db.schema });
});

beforeEach(async () => {
  await db.pool.query(`TRUNCATE "${db.schema}".outbox, "${db.schema}".outbox_dead_letter`);
  const writer = crashWriter(db.schema, exchange);
  await writeCommitted(
    db.pool,
    writer,
    Array.from({ length: 10 }, (_, n) => ({ n, key: n % 3 === 0 ? null : `key-${n % 2}` })),
    5,
  );
});

describe('lease fencing', () => {
  it('a relay whose lease was taken over cannot delete or mark messages it no longer holds; the new holder can', async () => {
    const { pool } = db;
    const t = outboxTables(db.schema);
    const { seqs, tokenA, tokenB } = await takeOver(pool);

    expect((await pool.query(outboxSql.deletePublishedSql(t), [seqs, tokenA])).rowCount).toBe(0);
    expect((await pool.query(outboxSql.markPublishedSql(t), [seqs, tokenA])).rowCount).toBe(0);
    const after = await rows(pool);
    expect(after).toHaveLength(seqs.length);
    after.forEach(heldByB(tokenB));

    expect((await pool.query(outboxSql.deletePublishedSql(t), [seqs, tokenB])).rowCount).toBe(seqs.length);
    expect(await rows(pool)).toEqual([]);
  });

  it('a relay whose lease was taken over cannot schedule retries, dead-letter or release messages it no longer holds', async () => {
    const { pool } = db;
    const t = outboxTables(db.schema);
    const { seqs, tokenA, tokenB } = await takeOver(pool);
    const entry = { at: new Date().toISOString(), attempt: 1, relayId: 'relay-a', code: 'PUBLISH_TIMEOUT', error: 'x' };

    const retries = seqs.map((seq) => ({ seq, delay_ms: 0, error: 'stale', entry }));
    expect((await pool.query(outboxSql.scheduleRetriesSql(t), [JSON.stringify(retries), tokenA])).rowCount).toBe(0);
    const deadLetters = seqs.map((seq) => ({ seq, error: 'stale', entry, reason: 'retries exhausted' }));
    await pool.query(outboxSql.deadLetterSql(t), [JSON.stringify(deadLetters), tokenA]);
    expect(await deadLetterCount(pool)).toBe(0);
    expect((await pool.query(outboxSql.releaseLeasesSql(t), [[tokenA]])).rowCount).toBe(0);

    const after = await rows(pool);
    expect(after).toHaveLength(seqs.length);
    after.forEach(heldByB(tokenB));

    // The current holder's token works (positive control).
    expect((await pool.query(outboxSql.scheduleRetriesSql(t), [JSON.stringify(retries), tokenB])).rowCount).toBe(
      seqs.length,
    );
    for (const r of await rows(pool)) {
      expect(r.attempts).toBe(1);
      expect(r.lease_token).toBeNull();
    }
  });

  it('a stale delete that was waiting on the new claim re-checks the token and deletes nothing', async () => {
    const { pool } = db;
    const t = outboxTables(db.schema);
    const a = await claim(pool, 'relay-a', LEASE_MS);
    const seqs = a.map((r) => r.seq);
    const tokenA = a[0]?.lease_token as string;
    await waitUntil(
      "relay A's lease to expire",
      async () => {
        const { rows: r } = await pool.query<{ expired: boolean }>(
          `SELECT bool_and(lease_expires_at <= now()) AS expired FROM "${db.schema}".outbox`,
        );
        return r[0]?.expired === true;
      },
      { timeoutMs: WAIT_MS, intervalMs: 100 },
    );

    // Relay B claims but has not committed yet; relay A's delete (confirms just arrived) runs now.
    const b = await pool.connect();
    let tokenB: string;
    try {
      const claimed = await claim(pool, 'relay-b', 60_000, b);
      tokenB = claimed[0]?.lease_token as string;
      expect(claimed).toHaveLength(seqs.length);
      const staleDelete = pool.query(outboxSql.deletePublishedSql(t), [seqs, tokenA]);
      await waitUntil(
        "relay A's delete to wait for relay B's claim",
        async () => {
          const { rows: r } = await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM "' || $1::text || '"%'`,
            [db.schema],
          );
          return (r[0]?.n ?? 0) > 0;
        },
        { timeoutMs: WAIT_MS },
      );
      await b.query('COMMIT');
      expect((await staleDelete).rowCount).toBe(0);
    } finally {
      b.release();
    }
    const after = await rows(pool);
    expect(after).toHaveLength(seqs.length);
    after.forEach(heldByB(tokenB));
  });

  it('a claim racing a late relay that schedules a retry does not let a newer message of the same key overtake it', async () => {
    const { pool } = db;
    const t = outboxTables(db.schema);
    const writer = crashWriter(db.schema, exchange);
    const [first] = await writeCommitted(pool, writer, [{ n: 100, key: 'race' }], 1);
    const a = await claim(pool, 'relay-a', LEASE_MS);
    const tokenA = a[0]?.lease_token as string;
    const firstSeq = a.find((r) => r.id === first?.id)?.seq as string;
    expect(firstSeq).toBeDefined();
    // Committed after relay A claimed the first one: same key, later in commit order.
    const [second] = await writeCommitted(pool, writer, [{ n: 101, key: 'race' }], 1);
    await waitUntil(
      "relay A's lease to expire",
      async () => {
        const { rows: r } = await pool.query<{ expired: boolean }>(
          `SELECT bool_and(lease_expires_at <= now()) AS expired FROM "${db.schema}".outbox WHERE lease_owner = 'relay-a'`,
        );
        return r[0]?.expired === true;
      },
      { timeoutMs: WAIT_MS, intervalMs: 100 },
    );

    // Relay A, late, settles its failed publish of the first message (a retry in a minute)
    // while relay B looks for work.
    const settle = await pool.connect();
    let claimedByB: Claimed[];
    try {
      await settle.query('BEGIN');
      const entry = {
        at: new Date().toISOString(),
        attempt: 1,
        relayId: 'relay-a',
        code: 'PUBLISH_FAILED',
        error: 'x',
      };
      const retry = [{ seq: firstSeq, delay_ms: 60_000, error: 'nacked', entry }];
      expect((await settle.query(outboxSql.scheduleRetriesSql(t), [JSON.stringify(retry), tokenA])).rowCount).toBe(1);
      claimedByB = await claim(pool, 'relay-b', 60_000);
      await settle.query('COMMIT');
    } finally {
      settle.release();
    }
    // The first message of key "race" is now due in a minute; B must not publish the second before it.
    const ids = claimedByB.map((r) => r.id);
    expect(ids).not.toContain(first?.id);
    expect(ids, 'relay B claimed a newer message of key "race" ahead of an older unpublished one').not.toContain(
      second?.id,
    );
  });

  it('a claim never takes messages whose settle is in progress under a still-valid lease', async () => {
    const { pool } = db;
    const t = outboxTables(db.schema);
    const a = await claim(pool, 'relay-a', LEASE_MS);
    const seqs = a.map((r) => r.seq);
    const tokenA = a[0]?.lease_token as string;

    // Relay A deletes its published messages in a transaction that has not committed yet ...
    const settle = await pool.connect();
    try {
      await settle.query('BEGIN');
      expect((await settle.query(outboxSql.deletePublishedSql(t), [seqs, tokenA])).rowCount).toBe(seqs.length);
      // ... while its lease expires and relay B looks for work: the rows being deleted are skipped.
      await waitUntil(
        "relay A's lease to expire",
        async () => {
          const { rows: r } = await pool.query<{ expired: boolean }>(
            `SELECT bool_and(lease_expires_at <= now()) AS expired FROM "${db.schema}".outbox`,
          );
          return r[0]?.expired === true;
        },
        { timeoutMs: WAIT_MS, intervalMs: 100 },
      );
      expect(await claim(pool, 'relay-b', 60_000)).toEqual([]);
      await settle.query('COMMIT');
    } finally {
      settle.release();
    }
    expect(await rows(pool)).toEqual([]);
  });
});
