// One claimed batch from publish to settled: publish with confirms, plan the writes, run them
// through the store, report. It also remembers the leases of batches not yet settled, which
// the relay gives back on stop so another relay need not wait for them to expire.
import type { TxboxLogger } from '@txbox/core';
import { outboxChannels, type RelayBatchEvent } from '../diagnostics/outbox-diagnostics.js';
import { traceSend } from '../telemetry/send-spans.js';
import type { ConfirmPublisher, PublishItem, PublishOutcome } from './confirm-publisher.js';
import { encodeOutboxRow } from './encode-outbox-row.js';
import type { UnroutablePolicy } from './relay-options.js';
import type { ClaimedRow, RelayStore } from './relay-store.js';
import type { RetryStrategy } from './retry-strategy.js';
import { planSettlement } from './settlement-plan.js';

/** What one batch did. */
export interface RelayBatchResult {
  claimed: number;
  published: number;
  retried: number;
  deadLettered: number;
  unroutable: number;
}

export interface BatchSettlerOptions {
  relayId: string;
  store: RelayStore;
  publisher: ConfirmPublisher;
  retryStrategy: RetryStrategy;
  onUnroutable: UnroutablePolicy;
  logger: TxboxLogger;
}

export class BatchSettler {
  readonly #deps: BatchSettlerOptions;
  /** Lease tokens of batches claimed but not yet settled, released on stop. */
  readonly #unsettledTokens = new Set<string>();

  constructor(options: BatchSettlerOptions) {
    this.#deps = options;
  }

  /** `started` is when the claim began, so the batch event's duration includes it. */
  async publishAndSettle(rows: ClaimedRow[], started: number): Promise<RelayBatchResult> {
    return this.start(rows, started).settled;
  }

  /**
   * Publishes the batch, then settles it: `published` resolves once the broker answered for every
   * message (the publisher is free for the next batch), `settled` once the outcome is written.
   * The relay loop counts a batch as in flight until `published`, so the next batch publishes
   * while this one is written to PostgreSQL. Per-key order holds: until it is settled, this
   * batch's rows stay leased, and no newer message of their keys can be claimed.
   */
  start(rows: ClaimedRow[], started: number): { published: Promise<void>; settled: Promise<RelayBatchResult> } {
    const result: RelayBatchResult = { claimed: rows.length, published: 0, retried: 0, deadLettered: 0, unroutable: 0 };
    if (rows.length === 0) return { published: Promise.resolve(), settled: Promise.resolve(result) };
    const token = rows[0]?.lease_token as string;
    // Registered before the first await, so a stop that follows the claim always sees it.
    this.#unsettledTokens.add(token);
    const outcomes = traceSend(rows, () => this.#deps.publisher.publishBatch(rows.map(toPublishItem)));
    const settled = (async () => {
      try {
        await this.#settle(rows, await outcomes, token, result);
      } finally {
        this.#unsettledTokens.delete(token);
      }
      const event: RelayBatchEvent = {
        relayId: this.#deps.relayId,
        ...result,
        durationMs: performance.now() - started,
      };
      outboxChannels.batch.publish(event);
      return result;
    })();
    return { published: outcomes.then(() => undefined), settled };
  }

  /** Releases the leases of batches still unsettled; on failure they expire after `leaseMs`. */
  async releaseUnsettledLeases(): Promise<void> {
    if (this.#unsettledTokens.size === 0) return;
    try {
      await this.#deps.store.releaseLeases([...this.#unsettledTokens]);
      this.#unsettledTokens.clear();
    } catch (error) {
      this.#deps.logger.warn('Could not release outbox leases at stop; they expire after leaseMs', {
        error: (error as Error).message,
      });
    }
  }

  async #settle(rows: ClaimedRow[], outcomes: PublishOutcome[], token: string, result: RelayBatchResult) {
    const plan = planSettlement({
      rows,
      outcomes,
      onUnroutable: this.#deps.onUnroutable,
      retryStrategy: this.#deps.retryStrategy,
      relayId: this.#deps.relayId,
      now: new Date(),
    });
    result.unroutable = plan.unroutable;
    if (plan.published.length > 0) {
      const settled = await this.#deps.store.markPublished(plan.published, token);
      result.published = plan.published.length;
      if (settled < plan.published.length) this.#leaseLost(plan.published.length, settled);
    }
    if (plan.retries.length > 0) {
      await this.#deps.store.scheduleRetries(plan.retries, token);
      result.retried = plan.retries.length;
    }
    if (plan.deadLetters.length > 0) {
      await this.#deps.store.deadLetter(plan.deadLetters, token);
      result.deadLettered = plan.deadLetters.length;
      for (const d of plan.deadLetters) {
        outboxChannels.deadLettered.publish({
          relayId: this.#deps.relayId,
          id: d.id,
          type: d.type,
          reason: d.reason,
          error: d.error,
        });
        this.#deps.logger.warn('Outbox message dead-lettered', { id: d.id, type: d.type, reason: d.reason });
      }
    }
  }

  #leaseLost(expected: number, settled: number): void {
    // Our lease expired and another relay re-claimed: it will publish again (the inbox
    // drops the duplicate). Usually means publishTimeoutMs/leaseMs are too tight.
    outboxChannels.leaseLost.publish({ relayId: this.#deps.relayId, expected, settled });
    this.#deps.logger.warn('Outbox relay lost leases before marking messages published', {
      relayId: this.#deps.relayId,
      expected,
      settled,
    });
  }
}

function toPublishItem(row: ClaimedRow): PublishItem {
  return { ...encodeOutboxRow(row), exchange: row.exchange, routingKey: row.routing_key };
}
