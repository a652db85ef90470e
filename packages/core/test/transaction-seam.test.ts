import 'reflect-metadata';
import {
  fromPg,
  fromTypeOrm,
  isTransaction,
  NotInTransactionError,
  type Transaction,
  toTransaction,
} from '@txbox/core';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, waitUntil } from '../../../test-support/index.js';

const HOW_TO_PASS = /BEGIN[\s\S]*dataSource\.transaction/;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

function expectNotInTransaction(error: unknown, message: RegExp): void {
  expect(error).toBeInstanceOf(NotInTransactionError);
  expect(error).toMatchObject({ code: 'NOT_IN_TRANSACTION' });
  expect((error as Error).message).toMatch(message);
}

describe('pg seam: fromPg / toTransaction', () => {
  let pool: pg.Pool;

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
    pool.on('error', () => {});
  });

  afterAll(async () => {
    await pool.end();
  });

  async function withClient(fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await pool.connect();
    try {
      await fn(client);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
  }

  it('refuses a pg.Pool, saying what to pass instead', () => {
    for (const adapt of [fromPg, toTransaction]) {
      const error = thrown(() => adapt(pool as never));
      expectNotInTransaction(error, /Pool/);
      expect((error as Error).message).toMatch(HOW_TO_PASS);
    }
  });

  it('refuses a client that has not run BEGIN, saying what to pass instead', async () => {
    await withClient(async (client) => {
      await client.query('SELECT 1');
      for (const adapt of [fromPg, toTransaction]) {
        expectNotInTransaction(
          thrown(() => adapt(client)),
          HOW_TO_PASS,
        );
      }
    });
  });

  it('refuses a client after COMMIT, and after ROLLBACK', async () => {
    await withClient(async (client) => {
      await client.query('BEGIN');
      await client.query('COMMIT');
      for (const adapt of [fromPg, toTransaction])
        expectNotInTransaction(
          thrown(() => adapt(client)),
          HOW_TO_PASS,
        );
      await client.query('BEGIN');
      await client.query('ROLLBACK');
      for (const adapt of [fromPg, toTransaction])
        expectNotInTransaction(
          thrown(() => adapt(client)),
          HOW_TO_PASS,
        );
    });
  });

  it('refuses a client whose transaction failed (a statement raised an error after BEGIN), saying to roll it back', async () => {
    await withClient(async (client) => {
      await client.query('BEGIN');
      await expect(client.query('SELECT 1 / 0')).rejects.toThrow(/division by zero/);
      // pg rejects on the ErrorResponse; the status ('E') comes with the ReadyForQuery after it,
      // sometimes in a later packet.
      await waitUntil('the failed status', () => client.getTransactionStatus() === 'E', { intervalMs: 1 });
      for (const adapt of [fromPg, toTransaction]) {
        expectNotInTransaction(
          thrown(() => adapt(client)),
          /failed[\s\S]*roll it back/,
        );
      }
    });
  });

  it('refuses values that are not a client at all', () => {
    for (const value of [null, undefined, 'postgres://x', 42]) {
      expectNotInTransaction(
        thrown(() => toTransaction(value)),
        HOW_TO_PASS,
      );
    }
    expectNotInTransaction(
      thrown(() => fromPg({} as never)),
      HOW_TO_PASS,
    );
    expectNotInTransaction(
      thrown(() => fromPg({ query: async () => ({ rows: [], rowCount: 0 }) })),
      /getTransactionStatus/,
    );
  });

  it('accepts a client after BEGIN, and its query() runs inside that transaction', async () => {
    await withClient(async (client) => {
      await client.query('BEGIN');
      const tx = fromPg(client);
      expect(isTransaction(tx)).toBe(true);
      expect(tx.kind).toBe('txbox.transaction');
      expect(tx.driver).toBe('pg');
      expect(() => tx.assertActive()).not.toThrow();
      expect(toTransaction(client).driver).toBe('pg');
      expect(toTransaction(tx)).toBe(tx);

      await tx.query('CREATE TEMP TABLE seam_pg (id int PRIMARY KEY, label text) ON COMMIT DROP');
      const inserted = await tx.query('INSERT INTO seam_pg (id, label) VALUES ($1, $2), ($3, $4)', [
        1,
        'one',
        2,
        'two',
      ]);
      expect(inserted).toEqual({ rows: [], rowCount: 2 });
      const selected = await tx.query<{ id: number; label: string }>('SELECT id, label FROM seam_pg ORDER BY id');
      expect(selected).toEqual({
        rows: [
          { id: 1, label: 'one' },
          { id: 2, label: 'two' },
        ],
        rowCount: 2,
      });
      // Same backend, same transaction: the uncommitted rows are visible through the raw client.
      const txid = await tx.query<{ txid: string }>('SELECT txid_current()::text AS txid');
      const raw = await client.query<{ txid: string }>('SELECT txid_current()::text AS txid');
      expect(txid.rows[0]?.txid).toBe(raw.rows[0]?.txid);
    });
  });

  it('a Transaction accepted earlier refuses to be used after the transaction ends', async () => {
    await withClient(async (client) => {
      await client.query('BEGIN');
      const tx: Transaction = fromPg(client);
      await client.query('COMMIT');
      expectNotInTransaction(
        thrown(() => tx.assertActive()),
        HOW_TO_PASS,
      );
      expectNotInTransaction(
        thrown(() => toTransaction(tx)),
        HOW_TO_PASS,
      );
    });
  });

  it('a Transaction accepted earlier refuses to be used once its transaction has failed', async () => {
    await withClient(async (client) => {
      await client.query('BEGIN');
      const tx = fromPg(client);
      await expect(tx.query('SELECT * FROM no_such_table_for_txbox')).rejects.toThrow(/does not exist/);
      expectNotInTransaction(
        thrown(() => tx.assertActive()),
        /roll it back/,
      );
    });
  });
});

describe('TypeORM seam: fromTypeOrm / toTransaction', () => {
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = new DataSource({ type: 'postgres', url: testDatabaseUrl(), entities: [], synchronize: false });
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
  });

  it('refuses a DataSource, saying what to pass instead', () => {
    for (const adapt of [fromTypeOrm, toTransaction]) {
      const error = thrown(() => adapt(dataSource as never));
      expectNotInTransaction(error, /DataSource/);
      expect((error as Error).message).toMatch(HOW_TO_PASS);
    }
  });

  it('refuses dataSource.manager, which is not bound to a transaction', () => {
    for (const adapt of [fromTypeOrm, toTransaction]) {
      expectNotInTransaction(
        thrown(() => adapt(dataSource.manager as never)),
        HOW_TO_PASS,
      );
    }
  });

  it('refuses a queryRunner.manager before startTransaction()', async () => {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      for (const adapt of [fromTypeOrm, toTransaction]) {
        expectNotInTransaction(
          thrown(() => adapt(runner.manager as never)),
          HOW_TO_PASS,
        );
      }
    } finally {
      await runner.release();
    }
  });

  it('accepts the manager given to dataSource.transaction(), and query() returns rows and rowCount', async () => {
    let accepted: Transaction | undefined;
    await dataSource.transaction(async (manager) => {
      const tx = fromTypeOrm(manager);
      accepted = tx;
      expect(isTransaction(tx)).toBe(true);
      expect(tx.driver).toBe('typeorm');
      expect(toTransaction(manager).driver).toBe('typeorm');

      const selected = await tx.query<{ n: number; s: string }>('SELECT $1::int AS n, $2::text AS s', [7, 'seven']);
      expect(selected).toEqual({ rows: [{ n: 7, s: 'seven' }], rowCount: 1 });

      await tx.query('CREATE TEMP TABLE seam_typeorm (id int PRIMARY KEY) ON COMMIT DROP');
      const inserted = await tx.query('INSERT INTO seam_typeorm (id) VALUES ($1), ($2), ($3)', [1, 2, 3]);
      expect(inserted.rowCount).toBe(3);
      expect(inserted.rows).toEqual([]);
      const returning = await tx.query<{ id: number }>('INSERT INTO seam_typeorm (id) VALUES (4) RETURNING id');
      expect(returning).toEqual({ rows: [{ id: 4 }], rowCount: 1 });
      const counted = await manager.query('SELECT count(*)::int AS n FROM seam_typeorm');
      expect(counted).toEqual([{ n: 4 }]);
    });
    expect(accepted).toBeDefined();
    expectNotInTransaction(
      thrown(() => accepted?.assertActive()),
      /transaction/,
    );
    expectNotInTransaction(
      thrown(() => toTransaction(accepted)),
      /transaction/,
    );
  });

  it('accepts queryRunner.manager after startTransaction(), and refuses it again after commit', async () => {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction();
      const tx = fromTypeOrm(runner.manager);
      expect(toTransaction(runner.manager).driver).toBe('typeorm');
      await tx.query('CREATE TEMP TABLE seam_runner (id int) ON COMMIT DROP');
      expect((await tx.query('INSERT INTO seam_runner (id) SELECT generate_series(1, 5)')).rowCount).toBe(5);
      expect(await tx.query('SELECT id FROM seam_runner WHERE id > $1 ORDER BY id', [3])).toEqual({
        rows: [{ id: 4 }, { id: 5 }],
        rowCount: 2,
      });
      await runner.commitTransaction();
      expectNotInTransaction(
        thrown(() => tx.assertActive()),
        HOW_TO_PASS,
      );
      expectNotInTransaction(
        thrown(() => fromTypeOrm(runner.manager)),
        HOW_TO_PASS,
      );
    } finally {
      await runner.release();
    }
  });

  it('a Transaction accepted earlier refuses to be used after its query runner is released', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const tx = fromTypeOrm(runner.manager);
    await runner.rollbackTransaction();
    await runner.release();
    expectNotInTransaction(
      thrown(() => tx.assertActive()),
      /released|transaction/,
    );
  });
});
