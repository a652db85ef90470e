// Turns the outcome of a delivery into what the broker, the counters, the diagnostics channels
// and the logs see: ack a handled or duplicate delivery (coalesced by the ack ledger), copy a failed one to a delay queue or
// to the dead-letter queue as the failure policy decides, and leave it unacked if that fails.
import type { TxboxLogger } from '@txbox/core';
import { deadLetterHeaders, describeError, retryHeaders } from '@txbox/core/internal';
import type { Outcome } from '../delivery/transaction-runner.js';
import { type InboxMessageEvent, inboxChannels } from '../diagnostics/inbox-diagnostics.js';
import { decide, type FailurePolicy } from '../failure/failure-policy.js';
import type { GroupTopology } from '../topology/topology.js';
import type { Delivery, ReadyDelivery, TriageResult } from '../triage/triage.js';
import type { AckLedger } from './ack-ledger.js';
import { publishConfirmed } from './amqp-settle.js';
import type { DeliveryCounters } from './delivery-counters.js';

export interface SettlementOptions {
  group: string;
  logger: TxboxLogger;
  policy: FailurePolicy;
  /** Read at each use: the topology is derived lazily and rebuilt when a handler is added. */
  topology(): GroupTopology;
  counters: DeliveryCounters;
  acks: AckLedger;
}

export class Settlement {
  readonly #o: SettlementOptions;

  constructor(options: SettlementOptions) {
    this.#o = options;
  }

  /** Acks, counts and reports a handled delivery, or routes a failed one to retry or dead letter. */
  async settle(item: ReadyDelivery, outcome: Outcome, durationMs: number): Promise<void> {
    const { channel, message, event } = item;
    if (outcome.kind === 'duplicate') {
      this.#o.acks.ack(channel, message);
      this.#o.counters.counts.duplicatesSkipped += 1;
      inboxChannels.duplicate.publish(event);
      return;
    }
    if (outcome.kind === 'processed') {
      this.#o.acks.ack(channel, message);
      this.#o.counters.processed(durationMs);
      inboxChannels.processed.publish({ ...event, durationMs });
      return;
    }
    const decision = decide(this.#o.policy, { error: outcome.error, attempt: item.attempt, source: outcome.source });
    if (decision.action === 'retry') await this.#retry(item, decision.step, outcome.error);
    else await this.#deadLetter(item, decision.reason, outcome.error, event);
  }

  /** Settles a delivery that triage did not hand on (nothing to do for a stale one). */
  async settleUntriaged(delivery: Delivery, result: Exclude<TriageResult, { kind: 'ready' }>): Promise<void> {
    if (result.kind === 'discarded') {
      this.#o.acks.ack(delivery.channel, delivery.message);
      this.#o.counters.counts.discarded += 1;
    } else if (result.kind === 'rejected') {
      await this.#deadLetter(delivery, result.reason, result.error, result.event);
    }
  }

  /** Publishing a retry or dead letter failed (channel lost): leave the delivery unacknowledged; the broker redelivers it. */
  settleFailed(delivery: Delivery, error: unknown): void {
    inboxChannels.error.publish({ group: this.#o.group, error });
    this.#o.logger.warn('Inbox could not settle a delivery; it will be redelivered', {
      group: this.#o.group,
      id: delivery.envelope?.id,
      error: (error as Error).message,
    });
  }

  async #retry(item: ReadyDelivery, step: number, error: unknown): Promise<void> {
    const { channel, message, attempt, event } = item;
    const delay = this.#o.topology().delayQueues[step] as { name: string; delayMs: number };
    await publishConfirmed(channel, delay.name, message, retryHeaders(message, attempt, error));
    this.#o.acks.ack(channel, message);
    this.#o.counters.counts.retried += 1;
    inboxChannels.retried.publish({ ...event, delayMs: delay.delayMs, error: describeError(error) });
    this.#o.logger.info('Inbox handler failed; retrying later', {
      group: this.#o.group,
      id: event.id,
      attempt,
      delayMs: delay.delayMs,
      error: describeError(error),
    });
  }

  async #deadLetter(delivery: Delivery, reason: string, error: unknown, event: InboxMessageEvent): Promise<void> {
    const { channel, message } = delivery;
    const { group } = this.#o;
    const headers = deadLetterHeaders(message, { attempt: event.attempt, reason, error, group });
    await publishConfirmed(channel, this.#o.topology().deadLetterQueue, message, headers);
    this.#o.acks.ack(channel, message);
    this.#o.counters.counts.deadLettered += 1;
    inboxChannels.deadLettered.publish({ ...event, reason, error: describeError(error) });
    this.#o.logger.warn('Inbox message dead-lettered', { group, id: event.id, reason, error: describeError(error) });
  }
}
