// The content of the logical message the writer emits in WAL mode: everything an outbox row
// carries, so the relay publishes the same AMQP message from it and can park it in the outbox
// table unchanged. A JSON header line, a newline, then the payload's JSON text: the relay
// publishes the payload bytes as they are, without parsing and re-serializing them.
// (JSON.stringify never writes a raw newline, so the first one ends the header.)
import type { OutboxRowLike } from '../relay/encode-outbox-row.js';
import type { WriterRow } from '../writer/outbox-writer.js';

/** The format version written in every header, so a later relay can read older messages. */
const FORMAT = 1;

/** The logical-message prefix of an outbox schema: relays of other schemas skip the message. */
export function walMessagePrefix(schema: string): string {
  return `txbox:${schema}`;
}

interface Header {
  f: number;
  id: string;
  type: string;
  version: number;
  key: string | null;
  exchange: string;
  routingKey: string;
  headers: Record<string, string>;
  correlationId: string | null;
  causationId: string | null;
  traceparent: string | null;
  tracestate: string | null;
  delayMs: number;
}

export function encodeWalMessage(row: WriterRow): string {
  const header: Header = {
    f: FORMAT,
    id: row.id,
    type: row.type,
    version: row.version,
    key: row.ordering_key,
    exchange: row.exchange,
    routingKey: row.routing_key,
    headers: row.headers,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    traceparent: row.traceparent,
    tracestate: row.tracestate,
    delayMs: row.delay_ms,
  };
  return `${JSON.stringify(header)}\n${row.payloadJson}`;
}

/** A message read from the slot: an outbox row, plus where it sits in the stream. */
export interface WalMessage extends OutboxRowLike {
  exchange: string;
  routing_key: string;
  headers: Record<string, string>;
  delay_ms: number;
}

/** Reads a message the writer emitted; `occurredAt` is its transaction's commit time. */
export function decodeWalMessage(content: Buffer, occurredAt: Date): WalMessage {
  const text = content.toString('utf8');
  const split = text.indexOf('\n');
  if (split < 0) throw new Error('WAL outbox message without a payload line');
  const h = JSON.parse(text.slice(0, split)) as Header;
  if (h.f !== FORMAT) throw new Error(`WAL outbox message format ${h.f} is unknown to this relay; upgrade it`);
  return {
    id: h.id,
    type: h.type,
    version: h.version,
    ordering_key: h.key,
    exchange: h.exchange,
    routing_key: h.routingKey,
    headers: h.headers,
    correlation_id: h.correlationId,
    causation_id: h.causationId,
    traceparent: h.traceparent,
    tracestate: h.tracestate,
    delay_ms: h.delayMs,
    occurred_at: occurredAt,
    payload: text.slice(split + 1),
  };
}
