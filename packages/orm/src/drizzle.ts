// Drizzle on PostgreSQL, with either driver: node-postgres (`drizzle-orm/node-postgres`) or
// postgres-js (`drizzle-orm/postgres-js`). Statements run on the driver client the Drizzle
// transaction holds, so they are in it.
//
// Whether that transaction is still open is the hard part: both drivers let a client keep
// running statements after Drizzle's COMMIT (outside any transaction, or inside someone else's
// once the pool hands the connection on). With node-postgres the check is exact and free: the
// transaction status PostgreSQL reports after every statement (as fromPg). postgres-js exposes
// no such status, so there txbox asks PostgreSQL for the transaction id before each statement
// and refuses one that changed (or that differs between two statements: no transaction block).
import {
  ConfigurationError,
  fromPg,
  NotInTransactionError,
  type PgClientLike,
  type SessionFactory,
  type Transaction,
  type TransactionSession,
} from '@txbox/core';
import { adaptedTransaction, refuse } from './shared/adapted-transaction.js';
import { openCallbackSession } from './shared/callback-session.js';

/** The parts of a Drizzle PostgreSQL transaction (`PgTransaction`) txbox uses. */
export interface DrizzleTransactionLike {
  rollback(): never;
  setTransaction(config: object): Promise<unknown>;
  /** Drizzle's session; txbox reads the driver client it holds. */
  readonly session?: unknown;
}

/** The parts of a Drizzle PostgreSQL database txbox uses to open transactions. */
export interface DrizzleDatabaseLike {
  // biome-ignore lint/suspicious/noExplicitAny: Drizzle's generics; only the callback form is used.
  transaction(fn: (tx: any) => Promise<unknown>, config?: object): Promise<unknown>;
}

/** The transaction type of a given Drizzle database type. */
export type DrizzleTransactionOf<D extends DrizzleDatabaseLike> = Parameters<Parameters<D['transaction']>[0]>[0];

interface PostgresJsLike {
  unsafe(text: string, values?: unknown[]): PromiseLike<Record<string, unknown>[] & { count?: number }>;
}

const HELP =
  'Pass the `tx` given to `db.transaction(async (tx) => …)`, inside that callback: `outbox.add(fromDrizzle(tx), message)`.';

/**
 * Wraps an open Drizzle transaction (node-postgres or postgres-js driver). Refuses the Drizzle
 * database itself and a transaction that is over.
 */
export function fromDrizzle(tx: DrizzleTransactionLike): Transaction {
  if (typeof tx !== 'object' || tx === null) refuse('fromDrizzle', String(tx), HELP);
  if (typeof tx.rollback !== 'function' || typeof tx.setTransaction !== 'function') {
    refuse(
      'fromDrizzle',
      '$client' in tx ? 'the Drizzle database itself' : 'an object that is not a Drizzle transaction',
      HELP,
    );
  }
  const client = (tx.session as { client?: unknown } | undefined)?.client;
  if (isPgClient(client)) return withDriver(fromPgTransaction(client));
  if (isPostgresJs(client)) return fromPostgresJs(client, { known: false });
  throw new NotInTransactionError(
    'fromDrizzle() supports the node-postgres and postgres-js drivers of Drizzle; this transaction uses neither.',
  );
}

/**
 * Handler transactions as Drizzle transactions, for the inbox consumer's `session` option: each
 * handler gets Drizzle's `tx` as `ctx.tx`.
 */
export function drizzleSession<D extends DrizzleDatabaseLike>(db: D): SessionFactory<DrizzleTransactionOf<D>> {
  if (typeof db !== 'object' || db === null || typeof db.transaction !== 'function') {
    throw new ConfigurationError('inbox.session', 'drizzleSession() expects your Drizzle database (drizzle(pool))');
  }
  return {
    driver: 'drizzle',
    open: (): Promise<TransactionSession<DrizzleTransactionOf<D>>> =>
      openCallbackSession({
        transaction: (body) => db.transaction(body),
        adapt: (tx) => {
          const client = (tx as DrizzleTransactionLike).session as { client?: unknown } | undefined;
          // txbox opened this transaction: on postgres-js its first statement fixes the id to hold to.
          if (isPostgresJs(client?.client)) return fromPostgresJs(client.client, { known: true });
          return fromDrizzle(tx as DrizzleTransactionLike);
        },
      }),
  };
}

function isPgClient(client: unknown): client is PgClientLike {
  return typeof (client as PgClientLike | undefined)?.getTransactionStatus === 'function';
}

function isPostgresJs(client: unknown): client is PostgresJsLike {
  return typeof (client as PostgresJsLike | undefined)?.unsafe === 'function';
}

function fromPgTransaction(client: PgClientLike): Transaction {
  try {
    return fromPg(client);
  } catch (error) {
    if (error instanceof NotInTransactionError) {
      throw new NotInTransactionError(
        `The Drizzle transaction is over (its connection is not in a transaction). ${HELP}`,
      );
    }
    throw error;
  }
}

function withDriver(transaction: Transaction): Transaction {
  return {
    ...transaction,
    driver: 'drizzle',
    assertActive: () => {
      try {
        transaction.assertActive();
      } catch (error) {
        if (error instanceof NotInTransactionError) {
          throw new NotInTransactionError(`The Drizzle transaction is over or failed: ${error.message}`);
        }
        throw error;
      }
    },
    query: (text, values, options) => transaction.query(text, values, options),
  };
}

const XACT_ID = 'SELECT pg_current_xact_id()::text AS xid';

/**
 * postgres-js: one extra round trip per statement, the price of an exact check on a driver that
 * cannot say whether its connection is in a transaction. `known`: txbox opened this transaction
 * itself, so its first statement needs no proof that it is inside one.
 */
function fromPostgresJs(sql: PostgresJsLike, { known }: { known: boolean }): Transaction {
  let xid: string | undefined;
  const currentXid = async () => ((await sql.unsafe(XACT_ID, []))[0]?.xid as string | undefined) ?? '';
  return adaptedTransaction({
    driver: 'drizzle',
    assertActive: () => {},
    run: async (text, values) => {
      const now = await currentXid();
      if (xid === undefined && !known && now !== (await currentXid())) {
        throw new NotInTransactionError(
          `The Drizzle transaction is over (its connection is not in a transaction). ${HELP}`,
        );
      }
      if (xid !== undefined && now !== xid) {
        throw new NotInTransactionError(
          `The Drizzle transaction is over (its connection is in another transaction now). ${HELP}`,
        );
      }
      xid = now;
      const rows = await sql.unsafe(text, [...values]);
      return { rows: [...rows], rowCount: rows.count ?? rows.length };
    },
  });
}
