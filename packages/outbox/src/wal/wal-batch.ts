// One batch read from the slot, from decoded to settled: look up which of its keys have
// something parked, publish the rest with confirms, then park (in one transaction) what
// waits or failed. When `done` resolves, every message of the batch is confirmed by the broker
// or committed to the outbox table, so the slot may be confirmed past it.
import type { TxboxLogger } from '@txbox/core';
import { checkOut, queryPool } from '@txbox/core/internal';
import type pg from 'pg';
import { outboxChannels, type RelayBatchEvent } from '../diagnostics/outbox-diagnostics.js';
import type { ConfirmPublisher, PublishItem } from '../relay/confirm-publisher.js';
import { encodeOutboxRow } from '../relay/encode-outbox-row.js';
import type { UnroutablePolicy } from '../relay/relay-options.js';
import { persist } from '../relay/relay-store.js';
import type { RetryStrategy } from '../relay/retry-strategy.js';
import type { RelayBatchResult } from '../relay/settle-batch.js';
import { deadLetterSql } from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';
import { parkedKeysSql, parkMessagesSql } from '../sql/wal-sql.js';
import type { WalMessage } from './wal-message.js';
import { planWalBatch, routeBatch, type WalBatchPlan } from './wal-plan.js';

export interface WalBatchOptions {
  relayId: string;
  pool: pg.Pool;
  tables: OutboxTables;
  publisher: ConfirmPublisher;
  retryStrategy: RetryStrategy;
  onUnroutable: UnroutablePolicy;
  logger: TxboxLogger;
}

export class WalBatchProcessor {
  readonly #deps: WalBatchOptions;

  constructor(options: WalBatchOptions) {
    this.#deps = options;
  }

  /**
   * Routes the batch and starts publishing it. `waiting` (the keys whose messages wait in the
   * table once this batch is settled) is known before the broker answers, so the next batch can
   * be routed while this one awaits its confirms. `done` settles the batch; its parking waits for
   * `previous` (the batch before), so the table receives parked messages in stream order.
   */
  async begin(
    messages: WalMessage[],
    waitingBefore: ReadonlySet<string>,
    previous: Promise<unknown>,
  ): Promise<{ waiting: Set<string>; done: Promise<RelayBatchResult> }> {
    const started = performance.now();
    const parked = await this.#parkedKeys(messages);
    for (const key of waitingBefore) parked.add(key);
    const { publish, waiting } = routeBatch(messages, parked);
    const done = this.#finish(messages, publish, previous, started);
    return { waiting, done };
  }

  async #finish(
    messages: WalMessage[],
    published: number[],
    previous: Promise<unknown>,
    started: number,
  ): Promise<RelayBatchResult> {
    const outcomes =
      published.length > 0 ? await this.#deps.publisher.publishBatch(published.map((i) => toItem(messages[i]))) : [];
    const plan = planWalBatch({
      messages,
      published,
      outcomes,
      onUnroutable: this.#deps.onUnroutable,
      retryStrategy: this.#deps.retryStrategy,
      relayId: this.#deps.relayId,
      now: new Date(),
    });
    await previous.catch(() => {});
    if (plan.park.length > 0) await persist(() => this.#park(plan));
    const result: RelayBatchResult = {
      claimed: messages.length,
      published: plan.published,
      retried: plan.retried,
      deadLettered: plan.deadLetters.length,
      unroutable: plan.unroutable,
    };
    const event: RelayBatchEvent = { relayId: this.#deps.relayId, ...result, durationMs: performance.now() - started };
    outboxChannels.batch.publish(event);
    for (const d of plan.deadLetters) {
      outboxChannels.deadLettered.publish({ relayId: this.#deps.relayId, ...d });
      this.#deps.logger.warn('Outbox message dead-lettered', { id: d.id, type: d.type, reason: d.reason });
    }
    return result;
  }

  async #parkedKeys(messages: readonly WalMessage[]): Promise<Set<string>> {
    const keys = [...new Set(messages.map((m) => m.ordering_key).filter((k): k is string => k !== null))];
    if (keys.length === 0) return new Set();
    const { rows } = await queryPool<{ ordering_key: string }>(this.#deps.pool, parkedKeysSql(this.#deps.tables), [
      keys,
    ]);
    return new Set(rows.map((r) => r.ordering_key));
  }

  /** Parks and dead-letters in one transaction: a dead letter is never seen half-moved. */
  async #park(plan: WalBatchPlan): Promise<void> {
    const { client, release } = await checkOut(this.#deps.pool);
    let broken = false;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ seq: string; id: string }>(parkMessagesSql(this.#deps.tables), [
        JSON.stringify(plan.park),
      ]);
      if (plan.deadLetters.length > 0) {
        // A message parked by an earlier run of the same stretch (ON CONFLICT) is left to the table relay.
        const seqs = new Map(rows.map((r) => [r.id, r.seq]));
        const moved = plan.deadLetters
          .filter((d) => seqs.has(d.id))
          .map(({ id, error, entry, reason }) => ({ seq: seqs.get(id), error, entry, reason }));
        await client.query(deadLetterSql(this.#deps.tables), [JSON.stringify(moved), null]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      release(broken);
    }
  }
}

function toItem(message: WalMessage | undefined): PublishItem {
  const m = message as WalMessage;
  return { ...encodeOutboxRow(m), exchange: m.exchange, routingKey: m.routing_key };
}
