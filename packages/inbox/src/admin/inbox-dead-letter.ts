// How a message in a dead-letter queue is shown to an operator. Read leniently: a message that
// was dead-lettered because it was malformed (no id, not JSON) must still be listable.
import { isBookkeepingHeader, isBrokerHeader, REPUBLISH_HEADERS, WIRE_HEADERS } from '@txbox/core';
import type { GetMessage } from 'amqplib';
import type { ResolvedInboxDeadLetterFilter } from './inbox-dead-letter-filter.js';

export interface InboxDeadLetter {
  /** The AMQP message-id, or null when the message had none (it was malformed). */
  id: string | null;
  type: string | null;
  version: number | null;
  key: string | null;
  /** Why it was dead-lettered, as the consumer wrote it (e.g. `not retryable`, `malformed`). */
  reason: string | null;
  /** The last error. */
  error: string | null;
  /** The group that dead-lettered it. */
  group: string | null;
  /** Delivery attempts made. */
  attempts: number;
  /** Every failed attempt: `{ attempt, at, error }`. */
  attemptHistory: unknown[];
  /** When the last attempt failed, or null when the message carries no history. */
  deadLetteredAt: Date | null;
  /** Where it was first published. */
  originalExchange: string | null;
  originalRoutingKey: string | null;
  /** User headers (txbox and broker bookkeeping left out). */
  headers: Record<string, string>;
  /** The body parsed as JSON, or the text when it is not JSON. */
  payload: unknown;
  sizeBytes: number;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number') return String(value);
  return null;
}

function history(raw: unknown): unknown[] {
  const value = text(raw);
  if (value === null) return [];
  try {
    const parsed = JSON.parse(value);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

export function toInboxDeadLetter(message: GetMessage): InboxDeadLetter {
  const { properties, content } = message;
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  const attemptHistory = history(headers[REPUBLISH_HEADERS.history]);
  const last = attemptHistory.at(-1) as { at?: unknown } | undefined;
  const lastAt = typeof last?.at === 'string' ? new Date(last.at) : null;
  const body = content.toString('utf8');
  let payload: unknown = body;
  try {
    payload = JSON.parse(body);
  } catch {
    // Shown as text.
  }
  const userHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const v = text(value);
    if (!isBookkeepingHeader(name) && v !== null) userHeaders[name] = v;
  }
  const version = Number(text(headers[WIRE_HEADERS.version]) ?? 1);
  const attempts = Number(headers[REPUBLISH_HEADERS.attempt] ?? attemptHistory.length);
  return {
    id: text(properties.messageId),
    type: text(properties.type),
    version: Number.isSafeInteger(version) ? version : null,
    key: text(headers[WIRE_HEADERS.key]),
    reason: text(headers[REPUBLISH_HEADERS.reason]),
    error: text(headers[REPUBLISH_HEADERS.error]),
    group: text(headers[REPUBLISH_HEADERS.group]),
    attempts: Number.isSafeInteger(attempts) ? attempts : attemptHistory.length,
    attemptHistory,
    deadLetteredAt: lastAt && !Number.isNaN(lastAt.getTime()) ? lastAt : null,
    originalExchange: text(headers[REPUBLISH_HEADERS.originalExchange]),
    originalRoutingKey: text(headers[REPUBLISH_HEADERS.originalRoutingKey]),
    headers: userHeaders,
    payload,
    sizeBytes: content.length,
  };
}

export function matchesFilter(view: InboxDeadLetter, filter: ResolvedInboxDeadLetterFilter): boolean {
  if (filter.ids && (view.id === null || !filter.ids.includes(view.id))) return false;
  if (filter.type !== undefined && view.type !== filter.type) return false;
  if (filter.key !== undefined && view.key !== filter.key) return false;
  if (filter.since && (!view.deadLetteredAt || view.deadLetteredAt < filter.since)) return false;
  if (filter.until && (!view.deadLetteredAt || view.deadLetteredAt >= filter.until)) return false;
  return true;
}

/**
 * Headers of a replayed copy: the original's, with the dead-letter verdict removed and the
 * attempt counter reset (the group's retry steps apply again); the history of earlier attempts
 * is kept, so a message dead-lettered again shows every try.
 */
export function replayHeaders(message: GetMessage): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
  delete headers[REPUBLISH_HEADERS.reason];
  delete headers[REPUBLISH_HEADERS.error];
  delete headers[REPUBLISH_HEADERS.group];
  delete headers[REPUBLISH_HEADERS.attempt];
  for (const name of Object.keys(headers)) if (isBrokerHeader(name)) delete headers[name];
  return headers;
}
