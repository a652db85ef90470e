// One handler transaction on one connection, whether the user works with pg, TypeORM or an ORM
// adapter of @txbox/orm: the inbox record and the handler's writes must share that transaction to
// commit together, so every kind is adapted to the same small session shape.
import {
  ConfigurationError,
  fromPg,
  fromTypeOrm,
  type SessionFactory,
  type Transaction,
  type TypeOrmEntityManagerLike,
} from '@txbox/core';
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
  /** Undefined for ORM sessions, whose driver connection is the ORM's own. */
  client: pg.PoolClient | undefined;
  manager: object | undefined;
  /** What the handler gets as `ctx.tx`: the pg client, the TypeORM manager, or the ORM's transaction. */
  tx: unknown;
  /** Which session kind opened it, for the handler context's messages. */
  driver: string;
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
    tx: client,
    driver: 'pg',
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
    tx: runner.manager,
    driver: 'typeorm',
    transaction: fromTypeOrm(runner.manager as TypeOrmEntityManagerLike),
    commit: () => runner.commitTransaction(),
    rollback: async () => {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
    },
    release: () => runner.release(),
  };
}

/**
 * A session from an ORM adapter's factory (`prismaSession(prisma)` …): the ORM opens, commits and
 * rolls back its own transaction, on a connection of its own pool.
 */
export async function openFactorySession(factory: SessionFactory): Promise<HandlerSession> {
  const session = await factory.open();
  return {
    client: undefined,
    manager: undefined,
    tx: session.handle,
    driver: factory.driver,
    transaction: session.transaction,
    commit: () => session.commit(),
    rollback: () => session.rollback(),
    // The ORM returns its connection when its transaction ends; nothing is held past that.
    release: async () => {},
  };
}

/**
 * How the consumer opens handler sessions when it is not on its own pool (undefined then):
 * checks the options name at most one kind, and that a factory can open sessions.
 */
export function sessionOpener(options: {
  dataSource?: DataSourceLike;
  session?: SessionFactory;
}): (() => Promise<HandlerSession>) | undefined {
  const { dataSource, session } = options;
  if (session === undefined) return dataSource ? () => openTypeOrmSession(dataSource) : undefined;
  if (dataSource) {
    throw new ConfigurationError(
      'inbox.session',
      'pass either `dataSource` (TypeORM) or `session` (an ORM adapter), not both',
    );
  }
  if (typeof session !== 'object' || session === null || typeof session.open !== 'function') {
    throw new ConfigurationError(
      'inbox.session',
      'expected a session factory such as prismaSession(prisma) from @txbox/orm/prisma',
    );
  }
  return () => openFactorySession(session);
}
