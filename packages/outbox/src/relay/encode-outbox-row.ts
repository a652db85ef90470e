import { type EncodedAmqpMessage, encodeAmqpMessage } from '@txbox/core';

/** The columns of an outbox row that make up its AMQP message (as selected from the table). */
export interface OutboxRowLike {
  id: string;
  type: string;
  version: number;
  ordering_key: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  occurred_at: Date;
  headers: Record<string, string> | null;
  /** The payload as JSON text (`payload::text`), published byte for byte. */
  payload: string;
}

/** Encodes an outbox row exactly as the relay publishes it (for tools that replay messages). */
export function encodeOutboxRow(row: OutboxRowLike): EncodedAmqpMessage {
  return encodeAmqpMessage(
    {
      id: row.id,
      type: row.type,
      version: row.version,
      occurredAt: row.occurred_at,
      key: row.ordering_key,
      correlationId: row.correlation_id,
      causationId: row.causation_id,
      traceparent: row.traceparent,
      tracestate: row.tracestate,
      headers: row.headers ?? {},
      payload: undefined,
    },
    row.payload,
  );
}
