// One handler transaction on one connection, whether the user works with pg or TypeORM: the
// inbox record and the handler's writes must share that connection to commit together, so both
// drivers are adapted to the same small session shape.
import { fromPg, fromTypeOrm, type Transaction, type TypeOrmEntityManagerLike } from '@txbox/core';
import { beginWith, checkOut } from '@txbox/core/internal';
import type pg from 'pg';

/** The parts of a TypeORM `DataSource` the inbox uses (0.3.x and 1.x). */
export interface DataSourceLike {
  createQueryRunner(): QueryRunnerLike;
}

export interface QueryRunnerLike {
  connect(): Promise<unknown>;
  startTransaction(): Promise<void>;
  commitTransaction(): Promise<void>;
  rollbackTransaction(): Promise<void>;
  release(): Promise<void>;
  readonly isTransactionActive: boolean;
  readonly manager: object;
  /** For the postgres driver: the pg PoolClient the runner holds. */
  readonly databaseConnection?: unknown;
}

/** One handler transaction: a pg client, optionally a TypeORM manager, on the same connection. */
export interface HandlerSession {
  client: pg.PoolClient;
  manager: object | undefined;
  transaction: Transaction;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Returns the connection; `broken` discards it (after a connection error). */
  release(broken?: boolean): Promise<void>;
}

/**
 * A pg session whose BEGIN goes out with its first statement (the inbox's dedup record), in one
 * round trip: `core/database/begin-with.ts`. Until then no transaction is open, and nothing but
 * that first statement can run (the handler runs after it).
 */
export async function openPgSession(pool: pg.Pool): Promise<HandlerSession> {
  const { client, release } = await checkOut(pool);
  let begun = false;
  let inner: Transaction | undefined;
  const transaction: Transaction = {
    kind: 'txbox.transaction',
    driver: 'pg',
    assertActive: () => (inner ?? fromPg(client)).assertActive(),
    async query<R>(text: string, values: readonly unknown[] = [], options: { name?: string } = {}) {
      if (inner) return inner.query<R>(text, values, options);
      begun = true;
      const result = await beginWith(client, { text, values, name: options.name });
      inner = fromPg(client);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  };
  return {
    client,
    manager: undefined,
    transaction,
    commit: async () => {
      if (begun) await client.query('COMMIT');
    },
    rollback: async () => {
      if (begun) await client.query('ROLLBACK');
    },
    release: async (broken = false) => {
      release(broken);
    },
  };
}

export async function openTypeOrmSession(dataSource: DataSourceLike): Promise<HandlerSession> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
  } catch (error) {
    await runner.release().catch(() => {});
    throw error;
  }
  const client = runner.databaseConnection as pg.PoolClient | undefined;
  if (!client || typeof (client as { query?: unknown }).query !== 'function') {
    await runner.rollbackTransaction().catch(() => {});
    await runner.release().catch(() => {});
    throw new Error('The TypeORM DataSource must use the postgres driver (pg) for the txbox inbox');
  }
  // Its 'error' events are guarded by guardPool on the DataSource's pool (see InboxConsumer).
  return {
    client,
    manager: runner.manager,
    transaction: fromTypeOrm(runner.manager as TypeOrmEntityManagerLike),
    commit: () => runner.commitTransaction(),
    rollback: async () => {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
    },
    release: () => runner.release(),
  };
}
