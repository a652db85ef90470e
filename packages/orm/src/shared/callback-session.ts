// ORMs open transactions with a callback (`prisma.$transaction(async (tx) => …)`): the
// transaction commits when the callback resolves and rolls back when it rejects. The inbox needs
// it the other way round (open, run the dedup record and the handler, then commit or roll back),
// so this holds the callback open until the inbox decides, and the ORM keeps ownership of its
// connection, its BEGIN and its COMMIT.
import type { Transaction, TransactionSession } from '@txbox/core';

/** Rejects the held callback so that the ORM rolls back; never surfaces to the caller. */
class RollbackRequested extends Error {
  constructor() {
    super('txbox rolled back the handler transaction');
  }
}

export interface CallbackSessionParts<Tx> {
  /** Runs `body` inside one ORM transaction; resolves after COMMIT, rejects after ROLLBACK. */
  transaction(body: (tx: Tx) => Promise<void>): Promise<unknown>;
  /** The seam's view of the transaction the ORM handed over. */
  adapt(tx: Tx): Transaction;
}

export function openCallbackSession<Tx>(parts: CallbackSessionParts<Tx>): Promise<TransactionSession<Tx>> {
  return new Promise<TransactionSession<Tx>>((opened, failedToOpen) => {
    let decide: { commit(): void; rollback(): void } | undefined;
    const finished = parts.transaction(
      (tx) =>
        new Promise<void>((commit, rollback) => {
          decide = { commit: () => commit(), rollback: () => rollback(new RollbackRequested()) };
          let transaction: Transaction;
          try {
            transaction = parts.adapt(tx);
          } catch (error) {
            rollback(error);
            return;
          }
          opened({
            handle: tx,
            transaction,
            commit: async () => {
              decide?.commit();
              await finished;
            },
            rollback: async () => {
              decide?.rollback();
              await finished.catch((error: unknown) => {
                if (!(error instanceof RollbackRequested)) throw error;
              });
            },
          });
        }),
    );
    // Before the callback ran (no connection, BEGIN failed), or adapt() refused the handle.
    finished.catch((error: unknown) => {
      if (!decide || !(error instanceof RollbackRequested)) failedToOpen(error);
    });
  });
}
