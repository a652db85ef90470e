// What every ORM adapter shares: the seam's Transaction built from three small functions (run a
// statement, check the handle is still in its transaction, recognize the ORM's own "this
// transaction is over" error), so each adapter is only the mapping onto its ORM.
import { NotInTransactionError, type SqlResult, type Transaction, type TransactionDriver } from '@txbox/core';

export interface AdaptedTransactionParts {
  driver: TransactionDriver;
  /** Runs one statement with bound parameters (`$1`, `$2`, … in `text`). */
  run(text: string, values: readonly unknown[]): Promise<SqlResult<Record<string, unknown>>>;
  /** Throws {@link NotInTransactionError} when the handle is known not to be in an open transaction. */
  assertActive(): void;
  /**
   * For ORMs that only find out at query time (Prisma, Kysely's callback transactions): the
   * message when `error` is the ORM refusing a finished transaction, so it surfaces as txbox's
   * named error instead of the ORM's.
   */
  finished?(error: unknown): string | undefined;
}

export function adaptedTransaction(parts: AdaptedTransactionParts): Transaction {
  parts.assertActive();
  return {
    kind: 'txbox.transaction',
    driver: parts.driver,
    assertActive: parts.assertActive,
    async query<R>(text: string, values: readonly unknown[] = [], _options: { name?: string } = {}) {
      // Named prepared statements are a pg-driver feature; ORMs plan raw statements themselves.
      parts.assertActive();
      try {
        return (await parts.run(text, values)) as SqlResult<R>;
      } catch (error) {
        const finished = parts.finished?.(error);
        if (finished) throw new NotInTransactionError(finished);
        throw error;
      }
    },
  };
}

/** The refusal every adapter gives for a handle of the wrong kind: what it got, and what to pass. */
export function refuse(adapter: string, got: string, help: string): never {
  throw new NotInTransactionError(`${adapter}() was given ${got}, which is not inside a transaction. ${help}`);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
