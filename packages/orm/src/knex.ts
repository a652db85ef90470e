// Knex on PostgreSQL: the `trx` of `knex.transaction(async (trx) => …)` (or
// `await knex.transaction()`). Knex knows exactly whether a transaction is over
// (`trx.isCompleted()`), checked before every statement. Knex binds `?` placeholders, so txbox's
// `$n` placeholders are rewritten to them, each occurrence with its value.
import { ConfigurationError, type SessionFactory, type Transaction, type TransactionSession } from '@txbox/core';
import { adaptedTransaction, refuse } from './shared/adapted-transaction.js';
import { openCallbackSession } from './shared/callback-session.js';
import { toKnexBindings } from './shared/knex-bindings.js';

/** The parts of a Knex transaction txbox uses. */
export interface KnexTransactionLike {
  readonly isTransaction?: boolean;
  isCompleted(): boolean;
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<{ rows?: unknown[]; rowCount?: number | null }>;
}

/** The parts of a Knex instance txbox uses to open transactions. */
export interface KnexLike {
  // biome-ignore lint/suspicious/noExplicitAny: Knex's generics; only the callback form is used.
  transaction(fn: (trx: any) => Promise<unknown>): PromiseLike<unknown>;
}

/** The transaction type of a given Knex type (`Knex.Transaction`). */
export type KnexTransactionOf<K extends KnexLike> = Parameters<Parameters<K['transaction']>[0]>[0];

const HELP =
  'Pass the `trx` given to `knex.transaction(async (trx) => …)`, inside that callback: `outbox.add(fromKnex(trx), message)`.';

/** Wraps an open Knex transaction. Refuses the Knex instance itself and a completed transaction. */
export function fromKnex(trx: KnexTransactionLike): Transaction {
  if ((typeof trx !== 'function' && typeof trx !== 'object') || trx === null || typeof trx.raw !== 'function') {
    refuse('fromKnex', trx === null ? 'null' : typeof trx, HELP);
  }
  if (trx.isTransaction !== true || typeof trx.isCompleted !== 'function') {
    refuse('fromKnex', 'the Knex instance itself', HELP);
  }
  return adaptedTransaction({
    driver: 'knex',
    assertActive: () => {
      if (trx.isCompleted()) refuse('fromKnex', 'a completed (committed or rolled-back) transaction', HELP);
    },
    run: async (text, values) => {
      const { sql, bindings } = toKnexBindings(text, values);
      const result = await trx.raw(sql, bindings);
      const rows = (result.rows ?? []) as Record<string, unknown>[];
      return { rows, rowCount: result.rowCount ?? rows.length };
    },
  });
}

/**
 * Handler transactions as Knex transactions, for the inbox consumer's `session` option: each
 * handler gets the `trx` as `ctx.tx`.
 */
export function knexSession<K extends KnexLike>(knex: K): SessionFactory<KnexTransactionOf<K>> {
  if (typeof (knex as unknown) !== 'function' || typeof knex.transaction !== 'function') {
    throw new ConfigurationError('inbox.session', 'knexSession() expects your Knex instance');
  }
  return {
    driver: 'knex',
    open: (): Promise<TransactionSession<KnexTransactionOf<K>>> =>
      openCallbackSession({
        transaction: (body) => Promise.resolve(knex.transaction(body)),
        adapt: (trx) => fromKnex(trx as KnexTransactionLike),
      }),
  };
}
