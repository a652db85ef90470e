// MikroORM (7.x, PostgreSQL driver): the EntityManager given to `em.transactional(async (em) => …)`,
// or a fork after `em.begin()`. MikroORM 7 holds the transaction as a Kysely controlled
// transaction (`em.getTransactionContext()`): statements run on it with bound parameters (not
// through `em.execute`, which inlines values into the SQL text), and it says exactly whether it
// is over.
import { ConfigurationError, type SessionFactory, type Transaction, type TransactionSession } from '@txbox/core';
import { adaptedTransaction, refuse } from './shared/adapted-transaction.js';
import { type KyselyExecutorLike, kyselyFinished, runOnKysely } from './shared/kysely-query.js';

/** The parts of a MikroORM `EntityManager` txbox uses. */
export interface MikroOrmEntityManagerLike {
  isInTransaction(): boolean;
  getTransactionContext<T = unknown>(): T | undefined;
}

/** What the inbox needs to open handler transactions: the root EntityManager (`orm.em`). */
export interface MikroOrmForkable {
  fork(options?: object): MikroOrmEntityManagerLike & {
    begin(options?: object): Promise<void>;
    commit(): Promise<void>;
    rollback(): Promise<void>;
  };
}

type ControlledTransactionLike = KyselyExecutorLike & { isCommitted?: boolean; isRolledBack?: boolean };

const HELP =
  'Pass the EntityManager given to `em.transactional(async (em) => …)`, inside that callback: `outbox.add(fromMikroOrm(em), message)`.';

/** Wraps a MikroORM EntityManager inside a transaction. Refuses one outside a transaction (`orm.em`) and one whose transaction is over. */
export function fromMikroOrm(em: MikroOrmEntityManagerLike): Transaction {
  if (typeof em !== 'object' || em === null || typeof em.getTransactionContext !== 'function') {
    refuse('fromMikroOrm', em === null ? 'null' : typeof em, HELP);
  }
  const context = () => {
    const trx = em.getTransactionContext<ControlledTransactionLike>();
    if (!trx) refuse('fromMikroOrm', 'an EntityManager outside a transaction (orm.em or a plain fork)', HELP);
    if (typeof trx.executeQuery !== 'function') {
      throw new ConfigurationError(
        'mikro-orm',
        'fromMikroOrm() supports MikroORM 7 with a SQL driver (@mikro-orm/postgresql)',
      );
    }
    if (trx.isCommitted) refuse('fromMikroOrm', 'an EntityManager whose transaction was committed', HELP);
    if (trx.isRolledBack) refuse('fromMikroOrm', 'an EntityManager whose transaction was rolled back', HELP);
    return trx;
  };
  return adaptedTransaction({
    driver: 'mikro-orm',
    assertActive: () => {
      context();
    },
    run: (text, values) => runOnKysely(context(), text, values),
    finished: kyselyFinished,
  });
}

/**
 * Handler transactions on forks of `orm.em`, for the inbox consumer's `session` option: each
 * handler gets its fork as `ctx.tx` (the EntityManager to persist with). The commit flushes it first,
 * as `em.transactional` does.
 */
export function mikroOrmSession<E extends MikroOrmForkable>(em: E): SessionFactory<ReturnType<E['fork']>> {
  if (typeof em !== 'object' || em === null || typeof em.fork !== 'function') {
    throw new ConfigurationError('inbox.session', 'mikroOrmSession() expects your root EntityManager (orm.em)');
  }
  return {
    driver: 'mikro-orm',
    open: async (): Promise<TransactionSession<ReturnType<E['fork']>>> => {
      const fork = em.fork({ clear: true }) as ReturnType<E['fork']>;
      await fork.begin();
      let transaction: Transaction;
      try {
        transaction = fromMikroOrm(fork);
      } catch (error) {
        await fork.rollback().catch(() => {});
        throw error;
      }
      return {
        handle: fork,
        transaction,
        commit: () => fork.commit(),
        rollback: async () => {
          if (fork.isInTransaction()) await fork.rollback();
        },
      };
    },
  };
}
