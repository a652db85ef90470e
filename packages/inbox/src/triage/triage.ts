// What can be decided about a delivery without the database: a malformed, unknown or invalid
// message is rejected at once (waiting never fixes it) with the reason its dead letter carries,
// and anything else is handed on, validated and upcast, ready for its handler's transaction.
import { decodeAmqpMessage, type Envelope, isTxboxError, type MessageRegistry, TxboxError } from '@txbox/core';
import { attemptOf } from '@txbox/core/internal';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { InboxMessageEvent } from '../diagnostics/inbox-diagnostics.js';
import type { MessageHandler } from '../handlers/handler.js';

/** A delivery as received: decoded once, so intake can read its ordering key. */
export interface Delivery {
  channel: ConfirmChannel;
  message: ConsumeMessage;
  envelope: Envelope | undefined;
  decodeError: unknown;
}

export interface ReadyDelivery extends Delivery {
  /** The envelope with its payload validated and upcast to the handler's contract. */
  typed: Envelope;
  handler: MessageHandler;
  attempt: number;
  event: InboxMessageEvent;
}

export type RejectionReason = 'malformed' | 'unknown type' | 'unknown version' | 'invalid payload';

export type TriageResult =
  | { kind: 'ready'; delivery: ReadyDelivery }
  | { kind: 'rejected'; reason: RejectionReason; error: unknown; event: InboxMessageEvent }
  /** Unknown type under `onUnknownType: 'discard'`: acknowledge and forget. */
  | { kind: 'discarded' }
  /**
   * Its channel is gone (connection lost while it waited for its turn): the broker has already
   * requeued it, so handling it now would only duplicate the work.
   */
  | { kind: 'stale' };

export interface TriageRules {
  group: string;
  handlers: ReadonlyMap<string, MessageHandler>;
  registry: MessageRegistry;
  onUnknownType: 'dead-letter' | 'discard';
  isCurrent(channel: ConfirmChannel): boolean;
}

export function decodeDelivery(channel: ConfirmChannel, message: ConsumeMessage, maxMessageBytes: number): Delivery {
  try {
    return { channel, message, envelope: decodeAmqpMessage(message, { maxMessageBytes }), decodeError: undefined };
  } catch (error) {
    return { channel, message, envelope: undefined, decodeError: error };
  }
}

export function triage(delivery: Delivery, rules: TriageRules): TriageResult {
  const { channel, message, envelope } = delivery;
  const attempt = attemptOf(message);
  const event: InboxMessageEvent = {
    group: rules.group,
    id: envelope?.id,
    type: envelope?.type,
    attempt,
    traceparent: envelope?.traceparent,
    tracestate: envelope?.tracestate,
  };
  if (!rules.isCurrent(channel)) return { kind: 'stale' };
  if (!envelope) return { kind: 'rejected', reason: 'malformed', error: delivery.decodeError, event };
  const handler = rules.handlers.get(envelope.type);
  if (!handler) {
    if (rules.onUnknownType === 'discard') return { kind: 'discarded' };
    const error = new TxboxError('CONTRACT_UNKNOWN', `Group ${rules.group} has no handler for type "${envelope.type}"`);
    return { kind: 'rejected', reason: 'unknown type', error, event };
  }
  try {
    const resolved = rules.registry.resolve(envelope.type, envelope.version, envelope.payload);
    const typed = { ...envelope, payload: resolved.payload };
    return { kind: 'ready', delivery: { ...delivery, typed, handler, attempt, event } };
  } catch (error) {
    const reason = isTxboxError(error) && error.code === 'CONTRACT_UNKNOWN' ? 'unknown version' : 'invalid payload';
    return { kind: 'rejected', reason, error, event };
  }
}
