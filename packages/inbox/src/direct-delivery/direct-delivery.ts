// A delivery without a broker, for tests (`deliver(consumer, message)` in @txbox/testing): the
// envelope is encoded to the wire format and then goes through the consumer's own decoding,
// triage, dedup record and handler transaction, exactly as a delivery from RabbitMQ does. Only
// settlement (ack, delay queue, dead-letter queue) is left out: there is no channel to settle on.
import { type Envelope, encodeAmqpMessage, type MessageRegistry } from '@txbox/core';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Outcome, TransactionRunner } from '../delivery/transaction-runner.js';
import type { MessageHandler } from '../handlers/handler.js';
import { decodeDelivery, type RejectionReason, triage } from '../triage/triage.js';

interface DirectDeliveryParts {
  runner: TransactionRunner;
  rules(): { handlers: ReadonlyMap<string, MessageHandler>; registry: MessageRegistry };
  group: string;
  maxMessageBytes: number;
}

/** What a direct delivery came to. */
export type DirectOutcome =
  | { kind: 'processed' }
  | { kind: 'duplicate' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'rejected'; reason: RejectionReason | 'discarded'; error: unknown };

const consumers = new WeakMap<object, DirectDeliveryParts>();

export function registerDirectDelivery(consumer: object, parts: DirectDeliveryParts): void {
  consumers.set(consumer, parts);
}

/** Runs one envelope through `consumer`'s triage, dedup and handler transaction. `attempt` as on a redelivery. */
export async function deliverDirect(consumer: object, envelope: Envelope, attempt = 1): Promise<DirectOutcome> {
  const parts = consumers.get(consumer);
  if (!parts) throw new TypeError('deliverDirect() expects an InboxConsumer');
  const { content, properties } = encodeAmqpMessage(envelope);
  const headers = { ...properties.headers, ...(attempt > 1 ? { 'x-txbox-attempt': attempt } : {}) };
  const message = {
    content,
    properties: { ...properties, headers },
    fields: { deliveryTag: 0, redelivered: attempt > 1, exchange: '', routingKey: envelope.type, consumerTag: '' },
  } as unknown as ConsumeMessage;
  // Never used: the channel is only for settlement, which a direct delivery leaves out.
  const channel = {} as ConfirmChannel;
  const { handlers, registry } = parts.rules();
  const verdict = triage(decodeDelivery(channel, message, parts.maxMessageBytes), {
    group: parts.group,
    handlers,
    registry,
    onUnknownType: 'dead-letter',
    isCurrent: () => true,
  });
  if (verdict.kind === 'rejected') return { kind: 'rejected', reason: verdict.reason, error: verdict.error };
  if (verdict.kind !== 'ready') return { kind: 'rejected', reason: 'discarded', error: undefined };
  const [outcome] = (await parts.runner.run([verdict.delivery])) ?? [];
  return toDirect(outcome);
}

function toDirect(outcome: Outcome | undefined): DirectOutcome {
  if (!outcome) return { kind: 'failed', error: new Error('the delivery got no outcome') };
  if (outcome.kind === 'failed') return { kind: 'failed', error: outcome.error };
  return outcome;
}
