// The span shapes of the OpenTelemetry messaging semantic conventions, as txbox uses them:
// `create <exchange>` (PRODUCER) per message at write, `send <exchange>` (CLIENT: the create span
// is the creation context) per message in the relay, `process <queue>` (CONSUMER) per delivery in
// the inbox. Names of the attributes are the conventions' own; `txbox.*` ones are txbox's.

export const ATTR = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  consumerGroup: 'messaging.consumer.group.name',
  routingKey: 'messaging.rabbitmq.destination.routing_key',
  batchCount: 'messaging.batch.message_count',
  /** txbox: the message type (contract). */
  messageType: 'txbox.message.type',
  /** txbox: ms between the write (occurred_at) and the publish. */
  outboxWaitMs: 'txbox.outbox.wait_ms',
  /** txbox: publish attempt (1 = first). */
  outboxAttempt: 'txbox.outbox.attempt',
  /** txbox: delivery attempt (1 = first; higher after retries through delay queues). */
  deliveryAttempt: 'txbox.inbox.attempt',
  /** txbox: the delivery was a duplicate: the handler did not run. */
  duplicate: 'txbox.inbox.duplicate',
} as const;

export const MESSAGING_SYSTEM = 'rabbitmq';

/** Span events txbox records. */
export const SPAN_EVENTS = {
  /** On a process span of a redelivered message (attempt > 1). */
  retry: 'txbox.retry',
  /** On the process span of a duplicate delivery. */
  duplicate: 'txbox.duplicate',
} as const;
