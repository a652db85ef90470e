// The other half of the database seam: where the seam adapts a transaction the caller opened,
// a session factory opens one itself (the inbox runs each handler in one). Each ORM adapter
// supplies a factory, so the inbox never imports an ORM: it opens a session, runs its dedup
// record and the handler through `transaction`, and hands the handler `handle`.
import type { Transaction } from './transaction.js';

/** One open transaction, opened by a {@link SessionFactory}. */
export interface TransactionSession<Tx = unknown> {
  /** The ORM's own transaction object (a Prisma transaction client, a Drizzle `tx`, …): what handlers get as `ctx.tx`. */
  readonly handle: Tx;
  /** The same transaction as the txbox seam: the inbox record and `ctx.outbox` write through it. */
  readonly transaction: Transaction;
  /** Commits; rejects (and the transaction is over) when the commit fails. */
  commit(): Promise<void>;
  /** Rolls back. Safe to call after a failed statement. */
  rollback(): Promise<void>;
}

/**
 * Opens transactions of one kind: `prismaSession(prisma)`, `knexSession(knex)`, … from
 * `@txbox/orm/*`. The inbox consumer's `session` option takes one.
 */
export interface SessionFactory<Tx = unknown> {
  /** Which adapter opens the transactions (`prisma`, `drizzle`, …), for messages and logs. */
  readonly driver: string;
  open(): Promise<TransactionSession<Tx>>;
}
