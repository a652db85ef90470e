// The exactly-once step: record the deliveries and run their handlers in one transaction, so a
// handler's writes and its inbox record commit together. A single delivery is a batch of one on
// the same dedup path, without a savepoint: BEGIN, record, handler, COMMIT.
import type { TxboxLogger } from '@txbox/core';
import { statementName } from '@txbox/core/internal';
import type { HandlerSession } from '../database/handler-session.js';
import type { FailureSource } from '../failure/failure-policy.js';
import { forgetDeliverySql, type InboxTables, recordDeliveriesSql } from '../sql/inbox-sql.js';
import type { ReadyDelivery } from '../triage/triage.js';

export type Outcome =
  | { kind: 'processed' }
  | { kind: 'duplicate' }
  | { kind: 'failed'; error: unknown; source: FailureSource };

export interface TransactionRunnerOptions {
  group: string;
  tables: InboxTables;
  logger: TxboxLogger;
  openSession(): Promise<HandlerSession>;
  runHandler(session: HandlerSession, item: ReadyDelivery): Promise<void>;
}

export class TransactionRunner {
  readonly #o: TransactionRunnerOptions;
  /** Prepared once per connection: it runs for every delivery. */
  readonly #record: { text: string; name: string };
  readonly #forget: string;

  constructor(options: TransactionRunnerOptions) {
    this.#o = options;
    const text = recordDeliveriesSql(options.tables);
    this.#record = { text, name: statementName(text) };
    this.#forget = forgetDeliverySql(options.tables);
  }

  /**
   * One outcome per item, in order. With several items each handler runs inside a savepoint,
   * so a failing handler rolls back only its own writes (and its inbox record) and the rest
   * commit together: one commit, one fsync, for the whole batch. When the batch transaction
   * itself fails (connection lost, deadlock between concurrent batches, commit error) this
   * returns undefined: run each item again on its own. A single item always gets an outcome.
   */
  async run(items: readonly ReadyDelivery[]): Promise<Outcome[] | undefined> {
    const single = items.length === 1;
    let session: HandlerSession;
    try {
      session = await this.#o.openSession();
    } catch (error) {
      // The database is unreachable: not the message's fault. Retry through the delay steps.
      if (single) return [{ kind: 'failed', error, source: 'database unavailable' }];
      this.#batchFailed(items, error);
      return undefined;
    }
    let broken = false;
    try {
      const outcomes = await this.#apply(session, items, single);
      await session.commit();
      return outcomes;
    } catch (error) {
      try {
        await session.rollback();
      } catch {
        broken = true;
      }
      if (single) return [{ kind: 'failed', error, source: 'transaction' }];
      this.#batchFailed(items, error);
      return undefined;
    } finally {
      await session.release(broken).catch(() => {});
    }
  }

  async #apply(session: HandlerSession, items: readonly ReadyDelivery[], single: boolean): Promise<Outcome[]> {
    const firstDeliveries = await this.#recordDeliveries(session, items);
    const outcomes: Outcome[] = [];
    for (const item of items) {
      if (!firstDeliveries.delete(item.typed.id)) {
        outcomes.push({ kind: 'duplicate' });
        continue;
      }
      if (single) {
        // A failure rolls back the whole transaction, record included: no savepoint needed.
        await this.#o.runHandler(session, item);
        outcomes.push({ kind: 'processed' });
        continue;
      }
      // Not released on success: one round trip less per message. A later SAVEPOINT of the
      // same name shadows it, and ROLLBACK TO goes back to the newest one.
      await session.transaction.query('SAVEPOINT txbox_delivery');
      try {
        await this.#o.runHandler(session, item);
        outcomes.push({ kind: 'processed' });
      } catch (error) {
        await session.transaction.query('ROLLBACK TO SAVEPOINT txbox_delivery');
        // Its record was written before the savepoint: remove it, so a retry runs the handler.
        await session.transaction.query(this.#forget, [this.#o.group, item.typed.id]);
        outcomes.push({ kind: 'failed', error, source: 'transaction' });
      }
    }
    return outcomes;
  }

  /** The ids recorded now: first deliveries, whose handlers run; the others are duplicates. */
  async #recordDeliveries(session: HandlerSession, items: readonly ReadyDelivery[]): Promise<Set<string>> {
    const { rows } = await session.transaction.query<{ message_id: string }>(
      this.#record.text,
      [
        this.#o.group,
        items.map((r) => r.typed.id),
        items.map((r) => r.typed.type),
        items.map((r) => r.typed.version),
        items.map((r) => r.attempt),
      ],
      { name: this.#record.name },
    );
    return new Set(rows.map((r) => r.message_id));
  }

  #batchFailed(items: readonly ReadyDelivery[], error: unknown): void {
    this.#o.logger.warn('Inbox batch transaction failed; processing its messages one by one', {
      group: this.#o.group,
      size: items.length,
      error: (error as Error).message,
    });
  }
}
