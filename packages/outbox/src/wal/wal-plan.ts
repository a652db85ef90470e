// The decisions of one stream batch, free of I/O: which messages go to the broker now, and
// which are parked in the outbox table (where the table relay's claim, retries and dead
// letters take over). Per-key order: a message whose key has anything parked is parked
// behind it, so its key waits while every other key streams on.
import type { PublishOutcome } from '../relay/confirm-publisher.js';
import type { UnroutablePolicy } from '../relay/relay-options.js';
import type { RetryStrategy } from '../relay/retry-strategy.js';
import { type AttemptEntry, type DeadLetterReason, planSettlement } from '../relay/settlement-plan.js';
import type { WalMessage } from './wal-message.js';

/**
 * Which messages of the batch (by position) to publish now; the others wait in the table.
 * `waiting`: the keys that wait after this batch (those given, and those it parks).
 */
export function routeBatch(
  messages: readonly WalMessage[],
  parkedKeys: ReadonlySet<string>,
): { publish: number[]; waiting: Set<string> } {
  const blocked = new Set(parkedKeys);
  const publish: number[] = [];
  messages.forEach((m, i) => {
    const key = m.ordering_key;
    // A delayed message waits in the table for its time, and its key waits behind it (as in table mode).
    if (m.delay_ms > 0 || (key !== null && blocked.has(key))) {
      if (key !== null) blocked.add(key);
    } else {
      publish.push(i);
    }
  });
  return { publish, waiting: blocked };
}

/** A message to insert into the outbox table, as parkMessagesSql reads it. */
export interface ParkRow {
  id: string;
  type: string;
  version: number;
  ordering_key: string | null;
  exchange: string;
  routing_key: string;
  /** JSON text; the statement casts it to jsonb. */
  payload: string;
  headers: Record<string, string>;
  correlation_id: string | null;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  occurred_at: string;
  delay_ms: number;
  attempts: number;
  last_error: string | null;
  attempt_history: AttemptEntry[];
}

/** A parked message to move on to the dead-letter table at once (in the same transaction). */
export interface WalDeadLetter {
  id: string;
  type: string;
  error: string;
  entry: AttemptEntry;
  reason: DeadLetterReason;
}

export interface WalBatchPlan {
  /** In stream order, so the table's seq follows commit order within each key. */
  park: ParkRow[];
  deadLetters: WalDeadLetter[];
  published: number;
  retried: number;
  unroutable: number;
}

export interface WalSettleInput {
  messages: readonly WalMessage[];
  /** Positions published, and the broker's outcome of each (same order). */
  published: readonly number[];
  outcomes: readonly PublishOutcome[];
  onUnroutable: UnroutablePolicy;
  retryStrategy: RetryStrategy;
  relayId: string;
  now: Date;
}

/**
 * Applies the table relay's settlement plan to the published messages (the same retry and
 * dead-letter decisions, the same attempt entries) and lists what to park: the messages that
 * waited, and the failed ones with their first attempt recorded.
 */
export function planWalBatch(input: WalSettleInput): WalBatchPlan {
  const { messages, published } = input;
  const settlement = planSettlement({
    rows: published.map((i) => {
      const m = messages[i] as WalMessage;
      return { seq: String(i), id: m.id, type: m.type, exchange: m.exchange, routing_key: m.routing_key, attempts: 0 };
    }),
    outcomes: input.outcomes,
    onUnroutable: input.onUnroutable,
    retryStrategy: input.retryStrategy,
    relayId: input.relayId,
    now: input.now,
  });
  const sent = new Set(published);
  const retries = new Map(settlement.retries.map((r) => [Number(r.seq), r]));
  const dead = new Map(settlement.deadLetters.map((d) => [Number(d.seq), d]));
  const plan: WalBatchPlan = {
    park: [],
    deadLetters: [],
    published: settlement.published.length,
    retried: settlement.retries.length,
    unroutable: settlement.unroutable,
  };
  messages.forEach((m, i) => {
    const retry = retries.get(i);
    const deadLetter = dead.get(i);
    if (sent.has(i) && !retry && !deadLetter) return;
    plan.park.push(
      toParkRow(m, {
        delay_ms: retry ? retry.delay_ms : sent.has(i) ? 0 : m.delay_ms,
        attempts: retry ? 1 : 0,
        last_error: retry ? retry.error : null,
        attempt_history: retry ? [retry.entry] : [],
      }),
    );
    if (deadLetter) {
      const { error, entry, reason } = deadLetter;
      plan.deadLetters.push({ id: m.id, type: m.type, error, entry, reason });
    }
  });
  return plan;
}

function toParkRow(
  m: WalMessage,
  state: Pick<ParkRow, 'delay_ms' | 'attempts' | 'last_error' | 'attempt_history'>,
): ParkRow {
  return {
    id: m.id,
    type: m.type,
    version: m.version,
    ordering_key: m.ordering_key,
    exchange: m.exchange,
    routing_key: m.routing_key,
    payload: m.payload,
    headers: m.headers,
    correlation_id: m.correlation_id,
    causation_id: m.causation_id,
    traceparent: m.traceparent,
    tracestate: m.tracestate,
    occurred_at: m.occurred_at.toISOString(),
    ...state,
  };
}
