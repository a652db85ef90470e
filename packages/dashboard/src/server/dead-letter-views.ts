// Both sides' dead letters mapped onto the pages' one view model, with the configured payload
// paths and headers redacted on the way.
import type { InboxDeadLetter } from '@txbox/inbox';
import type { DeadLetter } from '@txbox/outbox';
import { REDACTED, redactPaths } from '../redaction/redact-paths.js';
import type { DeadLetterDetail } from '../views/dead-letter-pages.js';

export interface Redactions {
  payload: string[];
  headers: string[];
}

function redactHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const lower = new Set(names.map((n) => n.toLowerCase()));
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, lower.has(k.toLowerCase()) ? REDACTED : v]));
}

export function outboxDeadLetterView(d: DeadLetter, redact: Redactions): DeadLetterDetail {
  return {
    id: d.id,
    type: `${d.type} v${d.version}`,
    key: d.orderingKey,
    deadLetteredAt: d.deadLetteredAt,
    reason: d.reason,
    attempts: d.attempts,
    error: d.lastError,
    payload: redactPaths(d.payload, redact.payload),
    headers: redactHeaders(d.headers, redact.headers),
    attemptHistory: d.attemptHistory,
    facts: [
      ['exchange', d.exchange],
      ['routing key', d.routingKey],
      ['occurred', d.occurredAt.toISOString()],
      ['correlation id', d.correlationId],
      ['causation id', d.causationId],
      ['traceparent', d.traceparent],
    ],
  };
}

export function inboxDeadLetterView(d: InboxDeadLetter, redact: Redactions): DeadLetterDetail {
  return {
    id: d.id,
    type: d.type === null ? null : `${d.type} v${d.version ?? '?'}`,
    key: d.key,
    deadLetteredAt: d.deadLetteredAt,
    reason: d.reason,
    attempts: d.attempts,
    error: d.error,
    payload: redactPaths(d.payload, redact.payload),
    headers: redactHeaders(d.headers, redact.headers),
    attemptHistory: d.attemptHistory,
    facts: [
      ['group', d.group],
      ['original exchange', d.originalExchange],
      ['original routing key', d.originalRoutingKey],
      ['size', `${d.sizeBytes} bytes`],
    ],
  };
}
