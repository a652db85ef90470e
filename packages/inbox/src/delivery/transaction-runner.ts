// The exactly-once step: record the deliveries and run their handlers in one transaction, so a
// handler's writes and its inbox record commit together. A single delivery is a batch of one on
// the same dedup path: BEGIN, record, handler, COMMIT; a batch adds no statement per message.
import type { TxboxLogger } from '@txbox/core';
import { statementName } from '@txbox/core/internal';
import type { HandlerSession } from '../database/handler-session.js';
import type { FailureSource } from '../failure/failure-policy.js';
import { type InboxTables, recordDeliveriesSql } from '../sql/inbox-sql.js';
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

  constructor(options: TransactionRunnerOptions) {
    this.#o = options;
    const text = recordDeliveriesSql(options.tables);
    this.#record = { text, name: statementName(text) };
  }

  /**
   * One outcome per item, in order. Several items share one transaction (one commit, one fsync,
   * one dedup statement) with no savepoint per handler: when a handler fails, or the transaction
   * itself does (connection lost, deadlock between concurrent batches, commit error), the whole
   * batch rolls back and this returns undefined — run each item again on its own. A failure is
   * the exception, and a savepoint per handler would cost every message a round trip. A single
   * item always gets an outcome.
   */
  async run(items: readonly ReadyDelivery[]): Promise<Outcome[] | undefined> {
    const single = items.length === 1;
    let session: HandlerSession;
    try {
      session = await this.#o.openSession();
    } catch (error) {
      // The database is unreachable: not the message's fault. Retry through the delay steps.
      if (single) return [{ kind: 'failed', error, source: 'database unavailable' }];
      this.#batchFailed(items, error, 'transaction');
      return undefined;
    }
    let broken = false;
    let source: 'handler' | 'transaction' = 'transaction';
    try {
      const firstDeliveries = await this.#recordDeliveries(session, items);
      const outcomes: Outcome[] = [];
      for (const item of items) {
        if (!firstDeliveries.delete(item.typed.id)) {
          outcomes.push({ kind: 'duplicate' });
          continue;
        }
        source = 'handler';
        await this.#o.runHandler(session, item);
        source = 'transaction';
        outcomes.push({ kind: 'processed' });
      }
      await session.commit();
      return outcomes;
    } catch (error) {
      try {
        await session.rollback();
      } catch {
        broken = true;
      }
      if (single) return [{ kind: 'failed', error, source: 'transaction' }];
      this.#batchFailed(items, error, source);
      return undefined;
    } finally {
      await session.release(broken).catch(() => {});
    }
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

  /** A handler failing is routine (it is retried alone, then through the delay queues); anything else is worth a warning. */
  #batchFailed(items: readonly ReadyDelivery[], error: unknown, source: 'handler' | 'transaction'): void {
    const log = source === 'handler' ? this.#o.logger.debug : this.#o.logger.warn;
    log.call(this.#o.logger, 'Inbox batch rolled back; processing its messages one by one', {
      group: this.#o.group,
      size: items.length,
      cause: source,
      error: (error as Error).message,
    });
  }
}
