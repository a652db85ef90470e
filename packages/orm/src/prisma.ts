// Prisma: interactive transactions (`prisma.$transaction(async (tx) => …)`), raw statements with
// bound parameters inside them. Works with the classic engine and with driver adapters
// (`@prisma/adapter-pg`), as txbox only uses Prisma's public raw-query API on the `tx` client.
// Prisma itself refuses a finished interactive transaction (P2028) at query time; that refusal
// surfaces as txbox's NotInTransactionError.
import { ConfigurationError, type SessionFactory, type Transaction, type TransactionSession } from '@txbox/core';
import { adaptedTransaction, refuse } from './shared/adapted-transaction.js';
import { openCallbackSession } from './shared/callback-session.js';

/** The parts of an interactive-transaction client (`tx`) txbox uses. */
export interface PrismaTransactionLike {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
}

/** The parts of a `PrismaClient` txbox uses to open interactive transactions. */
export interface PrismaClientLike {
  // biome-ignore lint/suspicious/noExplicitAny: Prisma's generated overloads; only the callback form is used.
  $transaction(fn: (tx: any) => Promise<unknown>, options?: PrismaTransactionOptions): PromiseLike<unknown>;
}

/** The interactive-transaction client of a given `PrismaClient` type (`Prisma.TransactionClient`). */
export type PrismaTransactionOf<C extends PrismaClientLike> = Parameters<Parameters<C['$transaction']>[0]>[0];

/** Options of `prisma.$transaction(fn, options)`, passed through as they are. */
export interface PrismaTransactionOptions {
  /** Longest wait for a connection, in ms. @defaultValue Prisma's (`2000`) */
  maxWait?: number;
  /** Longest a handler's transaction may run, in ms; Prisma rolls back after it. @defaultValue Prisma's (`5000`) */
  timeout?: number;
  isolationLevel?: 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
}

const HELP =
  'Pass the `tx` given to `prisma.$transaction(async (tx) => …)`, inside that callback: `outbox.add(fromPrisma(tx), message)`.';

/**
 * Wraps the client of an open Prisma interactive transaction. Refuses the `PrismaClient` itself
 * (every statement would commit on its own) and, at the first write, a transaction that is over.
 */
export function fromPrisma(tx: PrismaTransactionLike): Transaction {
  if (typeof tx !== 'object' || tx === null || typeof tx.$queryRawUnsafe !== 'function') {
    refuse('fromPrisma', describe(tx), HELP);
  }
  // The interactive-transaction client has no $connect/$disconnect (Prisma removes them); the client has.
  if (typeof (tx as { $connect?: unknown }).$connect === 'function') {
    refuse('fromPrisma', 'the PrismaClient itself', HELP);
  }
  return adaptedTransaction({
    driver: 'prisma',
    assertActive: () => {},
    run: async (text, values) => {
      const rows = (await tx.$queryRawUnsafe<Record<string, unknown>[]>(text, ...values)) ?? [];
      // $queryRawUnsafe returns rows, not a count: for txbox's statements the rows are what counts.
      return { rows, rowCount: rows.length };
    },
    finished: (error) => {
      const e = error as { code?: unknown; message?: unknown };
      return e.code === 'P2028'
        ? `The Prisma interactive transaction is over: ${String(e.message)} ${HELP}`
        : undefined;
    },
  });
}

/**
 * Handler transactions as Prisma interactive transactions, for the inbox consumer's `session`
 * option: each handler gets the transaction client as `ctx.tx`. Set `timeout` above your slowest
 * handler: Prisma rolls back a transaction that runs longer (the message is then retried).
 */
export function prismaSession<C extends PrismaClientLike>(
  prisma: C,
  options: PrismaTransactionOptions = {},
): SessionFactory<PrismaTransactionOf<C>> {
  if (typeof prisma !== 'object' || prisma === null || typeof prisma.$transaction !== 'function') {
    throw new ConfigurationError('inbox.session', `prismaSession() expects your PrismaClient, got ${describe(prisma)}`);
  }
  return {
    driver: 'prisma',
    open: (): Promise<TransactionSession<PrismaTransactionOf<C>>> =>
      openCallbackSession({
        transaction: (body) => Promise.resolve(prisma.$transaction(body, options)),
        adapt: (tx) => fromPrisma(tx as PrismaTransactionLike),
      }),
  };
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? 'an object that is not a Prisma client' : typeof value;
}
