// Kysely on PostgreSQL: the `trx` of `db.transaction().execute(async (trx) => …)` or a controlled
// transaction (`await db.startTransaction().execute()`). Statements run through Kysely's own
// executor on the transaction's connection. A controlled transaction says synchronously whether
// it is over; a callback one is refused by Kysely at the first statement after it ended.
import { ConfigurationError, type SessionFactory, type Transaction, type TransactionSession } from '@txbox/core';
import { adaptedTransaction, refuse } from './shared/adapted-transaction.js';
import { openCallbackSession } from './shared/callback-session.js';
import { type KyselyExecutorLike, kyselyFinished, runOnKysely } from './shared/kysely-query.js';

/** The parts of a Kysely `Transaction` (or `ControlledTransaction`) txbox uses. */
export interface KyselyTransactionLike extends KyselyExecutorLike {
  readonly isTransaction: boolean;
  readonly isCommitted?: boolean;
  readonly isRolledBack?: boolean;
}

/** The parts of a `Kysely` instance txbox uses to open transactions. */
export interface KyselyLike {
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's generics; only the callback form is used.
  transaction(): { execute<T>(fn: (trx: any) => Promise<T>): Promise<T> };
}

/** The transaction type of a given Kysely type (`Transaction<DB>`). */
export type KyselyTransactionOf<K extends KyselyLike> = Parameters<
  Parameters<ReturnType<K['transaction']>['execute']>[0]
>[0];

const HELP =
  'Pass the `trx` given to `db.transaction().execute(async (trx) => …)`, inside that callback: `outbox.add(fromKysely(trx), message)`.';

/** Wraps an open Kysely transaction. Refuses the Kysely instance itself and a transaction that is over. */
export function fromKysely(trx: KyselyTransactionLike): Transaction {
  if (typeof trx !== 'object' || trx === null || typeof trx.executeQuery !== 'function') {
    refuse('fromKysely', trx === null ? 'null' : typeof trx, HELP);
  }
  if (trx.isTransaction !== true) refuse('fromKysely', 'the Kysely instance itself', HELP);
  return adaptedTransaction({
    driver: 'kysely',
    assertActive: () => {
      if (trx.isCommitted) refuse('fromKysely', 'a committed transaction', HELP);
      if (trx.isRolledBack) refuse('fromKysely', 'a rolled-back transaction', HELP);
    },
    run: (text, values) => runOnKysely(trx, text, values),
    finished: kyselyFinished,
  });
}

/**
 * Handler transactions as Kysely transactions, for the inbox consumer's `session` option: each
 * handler gets the `trx` as `ctx.tx`.
 */
export function kyselySession<K extends KyselyLike>(db: K): SessionFactory<KyselyTransactionOf<K>> {
  if (typeof db !== 'object' || db === null || typeof db.transaction !== 'function') {
    throw new ConfigurationError('inbox.session', 'kyselySession() expects your Kysely instance');
  }
  return {
    driver: 'kysely',
    open: (): Promise<TransactionSession<KyselyTransactionOf<K>>> =>
      openCallbackSession({
        transaction: (body) => db.transaction().execute(body),
        adapt: (trx) => fromKysely(trx as KyselyTransactionLike),
      }),
  };
}
