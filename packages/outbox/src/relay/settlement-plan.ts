// The settle decision, free of I/O so that every publish outcome can be specified in a unit
// test: given a claimed batch and what the broker said about each message, it lists the
// fenced writes to make. The relay's store runs them; nothing here touches a connection.
import { TxboxError } from '@txbox/core';
import type { PublishOutcome } from './confirm-publisher.js';
import type { UnroutablePolicy } from './relay-options.js';
import type { RetryStrategy } from './retry-strategy.js';

/** The columns of a claimed row the decision reads. */
export interface SettlementRow {
  seq: string;
  id: string;
  type: string;
  exchange: string;
  routing_key: string;
  /** Failed attempts recorded before this one. */
  attempts: number;
}

/** One failed attempt, appended to the row's `attempt_history` (and kept by its dead letter). */
export interface AttemptEntry {
  at: string;
  attempt: number;
  relayId: string;
  code: string;
  error: string;
}

/** A row to publish again after `delay_ms` (counted by the database clock from the write). */
export interface RetryWrite {
  seq: string;
  delay_ms: number;
  error: string;
  entry: AttemptEntry;
}

export type DeadLetterReason = 'retries exhausted' | 'unroutable' | 'not retryable';

/** A row to move to the dead-letter table; `id` and `type` are for the event and log only. */
export interface DeadLetterWrite {
  seq: string;
  error: string;
  entry: AttemptEntry;
  reason: DeadLetterReason;
  id: string;
  type: string;
}

export interface SettlementPlan {
  /** Seqs to mark published (or delete), in batch order. */
  published: string[];
  retries: RetryWrite[];
  deadLetters: DeadLetterWrite[];
  /** Messages the broker returned as unroutable, whatever the policy made of them. */
  unroutable: number;
}

export interface SettlementInput {
  /** The claimed batch, in the order it was published. */
  rows: readonly SettlementRow[];
  /** The outcome of each row, by position. */
  outcomes: readonly PublishOutcome[];
  onUnroutable: UnroutablePolicy;
  retryStrategy: RetryStrategy;
  relayId: string;
  /** Written into each attempt entry: one instant for the whole batch. */
  now: Date;
}

/**
 * Decides each row by its own outcome, in batch order. Per-key order is kept by the claim,
 * not here: it hands out a keyed message only together with every older unpublished message
 * of its key, so a retried head holds back the rest of its key from later claims. Rows of that
 * key confirmed in the same batch have reached the broker already and are marked published.
 */
export function planSettlement(input: SettlementInput): SettlementPlan {
  const { rows, outcomes, onUnroutable, retryStrategy, relayId } = input;
  if (outcomes.length !== rows.length) {
    throw new Error(`planSettlement: ${outcomes.length} outcomes for ${rows.length} rows`);
  }
  const plan: SettlementPlan = { published: [], retries: [], deadLetters: [], unroutable: 0 };
  const at = input.now.toISOString();
  rows.forEach((row, i) => {
    const outcome = outcomes[i] as PublishOutcome;
    if (outcome.status === 'confirmed') {
      plan.published.push(row.seq);
      return;
    }
    if (outcome.status === 'unroutable') {
      plan.unroutable += 1;
      if (onUnroutable === 'discard') {
        plan.published.push(row.seq);
        return;
      }
    }
    const error = outcome.status === 'unroutable' ? unroutableError(row, onUnroutable) : outcome.error;
    const attempt = row.attempts + 1;
    const decision = retryStrategy({ attempt, error, retryable: error.retryable, type: row.type });
    const entry: AttemptEntry = { at, attempt, relayId, code: error.code, error: error.message };
    if (decision.retry) {
      plan.retries.push({
        seq: row.seq,
        delay_ms: Math.max(0, Math.round(decision.delayMs)),
        error: error.message,
        entry,
      });
    } else {
      plan.deadLetters.push({
        seq: row.seq,
        error: error.message,
        entry,
        reason: deadLetterReason(error),
        id: row.id,
        type: row.type,
      });
    }
  });
  return plan;
}

function unroutableError(row: SettlementRow, policy: UnroutablePolicy): TxboxError {
  return new TxboxError(
    'PUBLISH_UNROUTABLE',
    `No queue is bound to exchange "${row.exchange}" for routing key "${row.routing_key}"`,
    { retryable: policy === 'retry' },
  );
}

/** A retryable error the strategy gave up on spent its budget; the others could never succeed. */
function deadLetterReason(error: TxboxError): DeadLetterReason {
  if (error.retryable) return 'retries exhausted';
  return error.code === 'PUBLISH_UNROUTABLE' ? 'unroutable' : 'not retryable';
}
