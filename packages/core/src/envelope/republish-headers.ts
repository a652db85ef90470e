// What a retried or dead-lettered copy of a message carries on the wire: the attempt counter,
// the attempt history and where it first came from. These are part of the wire format (other
// languages read them), so they live next to the codec; the consumer only decides when to copy.

import { describeError } from '../errors/txbox-error.js';
import { isBrokerHeader } from './amqp-codec.js';

/** Headers written on retried and dead-lettered copies. */
export const REPUBLISH_HEADERS = {
  attempt: 'x-txbox-attempt',
  history: 'x-txbox-attempt-history',
  reason: 'x-txbox-dead-letter-reason',
  error: 'x-txbox-error',
  group: 'x-txbox-group',
  originalExchange: 'x-txbox-original-exchange',
  originalRoutingKey: 'x-txbox-original-routing-key',
} as const;

/** One failed attempt, as kept in {@link REPUBLISH_HEADERS.history} (JSON array). */
export interface AttemptRecord {
  attempt: number;
  at: string;
  error: string;
}

/** The parts of an amqplib `ConsumeMessage` a republished copy is built from. */
export interface RepublishedMessageLike {
  fields: { exchange: string; routingKey: string };
  properties: { headers?: Record<string, unknown> | undefined };
}

/** The delivery attempt a message carries: 1 on a first delivery, or when the header is garbled. */
export function attemptOf(message: { properties: { headers?: Record<string, unknown> | undefined } }): number {
  const raw = message.properties.headers?.[REPUBLISH_HEADERS.attempt];
  const n = typeof raw === 'number' ? raw : Number(raw);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

/** Headers of the copy sent to a delay queue: attempt `attempt` failed, the copy is attempt + 1. */
export function retryHeaders(
  message: RepublishedMessageLike,
  attempt: number,
  error: unknown,
): Record<string, unknown> {
  const headers = copyWithAttempt(message, attempt, error);
  headers[REPUBLISH_HEADERS.attempt] = attempt + 1;
  return headers;
}

/** Headers of the copy sent to a dead-letter queue, saying why and from which group. */
export function deadLetterHeaders(
  message: RepublishedMessageLike,
  failure: { attempt: number; reason: string; error: unknown; group: string },
): Record<string, unknown> {
  const headers = copyWithAttempt(message, failure.attempt, failure.error);
  headers[REPUBLISH_HEADERS.reason] = failure.reason;
  headers[REPUBLISH_HEADERS.error] = describeError(failure.error).slice(0, 4000);
  headers[REPUBLISH_HEADERS.group] = failure.group;
  return headers;
}

/** The original's headers, plus this attempt in the history. */
function copyWithAttempt(message: RepublishedMessageLike, attempt: number, error: unknown): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
  // The broker's x-death grows with every pass through a delay queue; our history replaces it.
  for (const name of Object.keys(headers)) if (isBrokerHeader(name)) delete headers[name];
  const history = parseHistory(headers[REPUBLISH_HEADERS.history]);
  history.push({ attempt, at: new Date().toISOString(), error: describeError(error).slice(0, 1000) });
  headers[REPUBLISH_HEADERS.history] = JSON.stringify(history);
  headers[REPUBLISH_HEADERS.attempt] = attempt;
  // After a pass through a delay queue the delivery's exchange is '' and its routing key the
  // queue name: keep where the message first came from.
  headers[REPUBLISH_HEADERS.originalExchange] ??= message.fields.exchange;
  headers[REPUBLISH_HEADERS.originalRoutingKey] ??= message.fields.routingKey;
  return headers;
}

function parseHistory(raw: unknown): AttemptRecord[] {
  if (raw === undefined || raw === null) return [];
  try {
    const parsed = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw));
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** The AMQP properties a copy of a message keeps (amqplib's names). */
export interface CopiedProperties {
  contentType?: string;
  contentEncoding?: string;
  messageId?: string;
  correlationId?: string;
  type?: string;
  timestamp?: number;
  appId?: string;
}

/**
 * The publish options of a copy of `message` (a retry, a dead letter, a replay): its id, type,
 * timestamp and the other properties, persistent, with `headers`.
 */
export function copyProperties(
  message: { properties: CopiedProperties },
  headers: Record<string, unknown>,
): CopiedProperties & { headers: Record<string, unknown>; persistent: true } {
  const { properties: p } = message;
  return {
    headers,
    persistent: true,
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    messageId: p.messageId,
    correlationId: p.correlationId,
    type: p.type,
    timestamp: p.timestamp,
    appId: p.appId,
  };
}
