import { validate as uuidValidate, v7 as uuidv7 } from 'uuid';

/**
 * A message as it travels: identity and metadata around a payload. The same shape is
 * stored in the outbox, put on the wire (see `encodeAmqpMessage`) and handed to handlers.
 */
export interface Envelope<P = unknown> {
  /** UUID (v7 when txbox generated it). Also the AMQP `message-id` and the inbox dedup key. */
  id: string;
  type: string;
  version: number;
  occurredAt: Date;
  /** Ordering key, or null. */
  key: string | null;
  correlationId: string | null;
  causationId: string | null;
  traceparent: string | null;
  tracestate: string | null;
  /** User headers (string values). */
  headers: Record<string, string>;
  payload: P;
}

/** A new time-ordered UUIDv7. */
export function newMessageId(): string {
  return uuidv7();
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidValidate(value);
}
