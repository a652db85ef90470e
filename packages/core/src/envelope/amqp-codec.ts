import { MalformedMessageError } from '../errors/txbox-error.js';
import type { Envelope } from './envelope.js';

/**
 * The txbox wire format on AMQP 0-9-1 (documented in the README for other languages):
 *
 * body: the payload as UTF-8 JSON.
 * properties: message-id = envelope id, type = message type, timestamp = occurred-at in
 *   seconds, content-type = application/json, content-encoding = utf-8, delivery-mode = 2,
 *   correlation-id = correlation id (when set).
 * headers: x-txbox-version (integer), x-txbox-occurred-at (ISO-8601 with milliseconds),
 *   x-txbox-key, x-txbox-causation-id (when set), traceparent / tracestate (when set),
 *   x-txbox-partition-key (always: the key, or the message id without one; what a partitioned
 *   group's consistent-hash exchange routes on), and every user header unchanged.
 */
export const WIRE_HEADERS = {
  version: 'x-txbox-version',
  occurredAt: 'x-txbox-occurred-at',
  key: 'x-txbox-key',
  causationId: 'x-txbox-causation-id',
  partitionKey: 'x-txbox-partition-key',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

const RESERVED_PREFIX = 'x-txbox-';
const RESERVED_HEADERS = new Set<string>([WIRE_HEADERS.traceparent, WIRE_HEADERS.tracestate]);

/** True when a user header name collides with a header txbox writes itself. */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith(RESERVED_PREFIX) || RESERVED_HEADERS.has(lower);
}

/** The subset of amqplib's publish options txbox sets. */
export interface AmqpPublishProperties {
  messageId: string;
  type: string;
  timestamp: number;
  contentType: 'application/json';
  contentEncoding: 'utf-8';
  deliveryMode: 2;
  persistent: true;
  correlationId?: string;
  headers: Record<string, string | number>;
}

export interface EncodedAmqpMessage {
  content: Buffer;
  properties: AmqpPublishProperties;
}

/** Encodes an envelope whose payload is already JSON text (as stored) or a value. */
export function encodeAmqpMessage(envelope: Envelope<unknown>, payloadJson?: string): EncodedAmqpMessage {
  const headers: Record<string, string | number> = { ...envelope.headers };
  headers[WIRE_HEADERS.version] = envelope.version;
  headers[WIRE_HEADERS.occurredAt] = envelope.occurredAt.toISOString();
  if (envelope.key !== null) headers[WIRE_HEADERS.key] = envelope.key;
  // Always present: RabbitMQ 3.10's consistent-hash exchange sends every message without its hash
  // header to one partition, so keyless messages spread by their id instead.
  headers[WIRE_HEADERS.partitionKey] = envelope.key ?? envelope.id;
  if (envelope.causationId !== null) headers[WIRE_HEADERS.causationId] = envelope.causationId;
  if (envelope.traceparent !== null) headers[WIRE_HEADERS.traceparent] = envelope.traceparent;
  if (envelope.tracestate !== null) headers[WIRE_HEADERS.tracestate] = envelope.tracestate;
  const properties: AmqpPublishProperties = {
    messageId: envelope.id,
    type: envelope.type,
    timestamp: Math.floor(envelope.occurredAt.getTime() / 1000),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    deliveryMode: 2,
    persistent: true,
    headers,
  };
  if (envelope.correlationId !== null) properties.correlationId = envelope.correlationId;
  return { content: Buffer.from(payloadJson ?? JSON.stringify(envelope.payload), 'utf8'), properties };
}

/** The parts of an amqplib `ConsumeMessage` the decoder reads. */
export interface AmqpMessageLike {
  content: Buffer;
  properties: {
    messageId?: unknown;
    type?: unknown;
    timestamp?: unknown;
    correlationId?: unknown;
    contentEncoding?: unknown;
    headers?: Record<string, unknown> | undefined;
  };
}

export interface DecodeOptions {
  /** Largest body accepted, in bytes. @defaultValue {@link DEFAULT_MAX_MESSAGE_BYTES} */
  maxMessageBytes?: number;
}

/** The writer's default payload limit (256 KiB): what txbox producers can send. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/**
 * Headers RabbitMQ adds on dead-lettering (the delay queues are dead-letter hops) and on quorum
 * redelivery. They describe the broker's handling, not the message: a handler that forwards its
 * incoming headers must not carry them on.
 */
const BROKER_HEADER = /^x-(death|first-death-|last-death-|delivery-count$)/i;

/** True for a header RabbitMQ writes on dead-lettering or redelivery (`x-death`, `x-first-death-*`, …). */
export function isBrokerHeader(name: string): boolean {
  return BROKER_HEADER.test(name);
}

/** True for a header the handler must not see: txbox's own and the broker's bookkeeping. */
export function isBookkeepingHeader(name: string): boolean {
  return isReservedHeader(name) || isBrokerHeader(name);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The body as text, or a MalformedMessageError: a payload that cannot be read faithfully must
 * never become an altered effect (a Latin-1 `café` decoded leniently would be applied as `caf\ufffd`).
 */
function bodyText(message: AmqpMessageLike, id: string, maxMessageBytes: number): string {
  const { content, properties } = message;
  if (content.length > maxMessageBytes) {
    throw new MalformedMessageError(
      `Message ${id} body is ${content.length} bytes, over the consumer's maxMessageBytes of ${maxMessageBytes}`,
    );
  }
  const encoding = properties.contentEncoding;
  if (encoding !== undefined && encoding !== null && !/^utf-?8$/i.test(String(encoding))) {
    throw new MalformedMessageError(
      `Message ${id} has content-encoding ${JSON.stringify(String(encoding))}; txbox reads UTF-8 JSON only (send no content-encoding, or utf-8)`,
    );
  }
  if (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf) {
    throw new MalformedMessageError(`Message ${id} body starts with a byte order mark; send UTF-8 JSON without one`);
  }
  try {
    return UTF8.decode(content);
  } catch (cause) {
    throw new MalformedMessageError(`Message ${id} body is not valid UTF-8`, { cause });
  }
}

/** A byte-array header as text: strict UTF-8, like the body (a handler must not see altered text). */
function headerText(value: Buffer, name: string): string {
  try {
    return UTF8.decode(value);
  } catch (cause) {
    throw new MalformedMessageError(`Header ${name} is a byte array that is not valid UTF-8`, { cause });
  }
}

function optionalString(headers: Record<string, unknown>, name: string): string | null {
  const value = headers[name];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return headerText(value, name);
  throw new MalformedMessageError(`Header ${name} must be a string, got ${typeof value}`);
}

/** `x-txbox-version`: an AMQP integer (or integral double), or text of decimal digits only ("2"). */
function versionOf(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 1 ? raw : undefined;
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('latin1') : undefined;
  if (text === undefined || !/^[0-9]{1,15}$/.test(text)) return undefined;
  const version = Number(text);
  return version >= 1 ? version : undefined;
}

/**
 * Decodes an AMQP message into an envelope with an unvalidated payload.
 * @throws MalformedMessageError when required properties are missing or invalid, or the body is
 *   too large, not UTF-8 (invalid bytes, a byte order mark, another content-encoding) or not JSON.
 */
export function decodeAmqpMessage(message: AmqpMessageLike, options: DecodeOptions = {}): Envelope<unknown> {
  const { properties } = message;
  const headers = { ...(properties.headers ?? {}) };
  if (typeof properties.messageId !== 'string' || properties.messageId.length === 0) {
    throw new MalformedMessageError('Message has no message-id property; txbox needs it to deduplicate');
  }
  if (typeof properties.type !== 'string' || properties.type.length === 0) {
    throw new MalformedMessageError(`Message ${properties.messageId} has no type property`);
  }
  // A producer in another language may omit the version: treat it as version 1.
  const rawVersion = headers[WIRE_HEADERS.version] ?? 1;
  const version = versionOf(rawVersion);
  if (version === undefined) {
    throw new MalformedMessageError(
      `Message ${properties.messageId} has an invalid ${WIRE_HEADERS.version} header: ${String(rawVersion)}`,
    );
  }
  let occurredAt: Date;
  const occurredHeader = optionalString(headers, WIRE_HEADERS.occurredAt);
  if (occurredHeader !== null) {
    occurredAt = new Date(occurredHeader);
  } else if (typeof properties.timestamp === 'number') {
    occurredAt = new Date(properties.timestamp * 1000);
  } else {
    occurredAt = new Date();
  }
  if (Number.isNaN(occurredAt.getTime())) {
    throw new MalformedMessageError(`Message ${properties.messageId} has an invalid ${WIRE_HEADERS.occurredAt} header`);
  }
  const text = bodyText(message, properties.messageId, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (cause) {
    throw new MalformedMessageError(`Message ${properties.messageId} body is not valid JSON`, { cause });
  }
  const envelope: Envelope<unknown> = {
    id: properties.messageId,
    type: properties.type,
    version,
    occurredAt,
    key: optionalString(headers, WIRE_HEADERS.key),
    correlationId: typeof properties.correlationId === 'string' ? properties.correlationId : null,
    causationId: optionalString(headers, WIRE_HEADERS.causationId),
    traceparent: optionalString(headers, WIRE_HEADERS.traceparent),
    tracestate: optionalString(headers, WIRE_HEADERS.tracestate),
    headers: {},
    payload,
  };
  for (const [name, value] of Object.entries(headers)) {
    // User headers only, and only as strings: txbox's and RabbitMQ's bookkeeping (attempt
    // history, x-death, x-first-death-*) stays out, so forwarding them is safe on every attempt.
    if (isBookkeepingHeader(name)) continue;
    if (typeof value === 'string') envelope.headers[name] = value;
    else if (Buffer.isBuffer(value)) envelope.headers[name] = headerText(value, name);
  }
  return envelope;
}
