// Runs a consumer's handler for one message without a broker: the message goes through the
// consumer's own decoding and validation, its dedup record and its handler transaction (pg,
// TypeORM or an ORM session), exactly as a delivery from RabbitMQ does. Only the ack / retry /
// dead-letter step is left out, so a failure is returned to the test instead of retried.
import { type Envelope, isTxboxError, newMessageId, type OutgoingMessage, TxboxError } from '@txbox/core';
import type { InboxConsumer } from '@txbox/inbox';
import { deliverDirect } from '@txbox/inbox/internal';

export interface DeliverOptions {
  /** Message id: pass the id of an earlier `deliver` to deliver the same message again. @defaultValue a new UUIDv7 (or the message's own `id`) */
  id?: string;
  /** The attempt number the handler sees (`ctx.attempt`), as after retries. @defaultValue `1` */
  attempt?: number;
}

/** What the handler run came to. A failing handler rejects `deliver` with its error instead. */
export interface DeliverResult {
  id: string;
  /** `processed`: the handler ran and its transaction committed; `duplicate`: the inbox already had this id, the handler did not run. */
  outcome: 'processed' | 'duplicate';
}

/**
 * Delivers `message` (`Contract.create(payload, options)`, or a whole envelope) to `consumer`.
 * The consumer need not be started. Resolves after the handler's transaction committed; rejects
 * with the handler's error after it rolled back, or with a `TxboxError` when the consumer would
 * refuse the message (no handler for its type, a payload its contract rejects).
 */
export async function deliver(
  consumer: InboxConsumer,
  message: OutgoingMessage | Envelope,
  options: DeliverOptions = {},
): Promise<DeliverResult> {
  const envelope = toEnvelope(message, options.id);
  const outcome = await deliverDirect(consumer, envelope, options.attempt ?? 1);
  switch (outcome.kind) {
    case 'processed':
    case 'duplicate':
      return { id: envelope.id, outcome: outcome.kind };
    case 'failed':
      throw outcome.error;
    case 'rejected':
      // The consumer's own verdict (CONTRACT_UNKNOWN, PAYLOAD_INVALID …), as its dead letter would carry.
      if (isTxboxError(outcome.error)) throw outcome.error;
      throw new TxboxError(
        'MESSAGE_INVALID',
        `Consumer group ${consumer.group} would dead-letter message ${envelope.id} (${envelope.type}): ${outcome.reason}`,
        { cause: outcome.error },
      );
  }
}

function toEnvelope(message: OutgoingMessage | Envelope, id: string | undefined): Envelope {
  if ('contract' in message) {
    return {
      id: id ?? message.id ?? newMessageId(),
      type: message.contract.type,
      version: message.contract.version,
      occurredAt: new Date(),
      key: message.key ?? null,
      correlationId: message.correlationId ?? null,
      causationId: message.causationId ?? null,
      traceparent: message.traceparent ?? null,
      tracestate: message.tracestate ?? null,
      headers: message.headers ?? {},
      payload: message.payload,
    };
  }
  return id ? { ...message, id } : message;
}
