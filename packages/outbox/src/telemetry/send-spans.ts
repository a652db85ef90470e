// The relay's side of tracing: one `send <exchange>` span per message of a batch, child of and
// linked to the message's creation context (its traceparent), with the time the message waited
// in the outbox and its publish attempt; a message the broker did not confirm ends in error.
import { ATTR, activeTracer, contextFromTraceparent, MESSAGING_SYSTEM, otelApi } from '@txbox/core/internal';
import type { PublishOutcome } from '../relay/confirm-publisher.js';
import type { ClaimedRow } from '../relay/relay-store.js';

/** Runs `publish` for `rows`; with a tracer registered, inside one send span per message. */
export async function traceSend(
  rows: readonly ClaimedRow[],
  publish: () => Promise<PublishOutcome[]>,
): Promise<PublishOutcome[]> {
  const tracer = activeTracer();
  const api = otelApi();
  if (!tracer || !api) return publish();
  const now = Date.now();
  const spans = rows.map((row) => {
    const creation = contextFromTraceparent(api, row.traceparent, row.tracestate);
    const creationSpan = creation && api.trace.getSpanContext(creation);
    return tracer.startSpan(
      `send ${row.exchange}`,
      {
        kind: api.SpanKind.CLIENT,
        attributes: {
          [ATTR.system]: MESSAGING_SYSTEM,
          [ATTR.operationType]: 'send',
          [ATTR.operationName]: 'send',
          [ATTR.destination]: row.exchange,
          [ATTR.routingKey]: row.routing_key,
          [ATTR.messageId]: row.id,
          [ATTR.messageType]: row.type,
          [ATTR.batchCount]: rows.length,
          [ATTR.outboxWaitMs]: Math.max(0, now - row.occurred_at.getTime()),
          [ATTR.outboxAttempt]: row.attempts + 1,
        },
        links: creationSpan ? [{ context: creationSpan }] : [],
      },
      creation ?? api.ROOT_CONTEXT,
    );
  });
  try {
    const outcomes = await publish();
    outcomes.forEach((outcome, i) => {
      const span = spans[i];
      if (!span) return;
      if (outcome.status === 'failed') {
        span.recordException(outcome.error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome.error.message });
      } else if (outcome.status === 'unroutable') {
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          message: 'unroutable: no queue is bound for the routing key',
        });
      }
    });
    return outcomes;
  } catch (error) {
    for (const span of spans) span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error)?.message });
    throw error;
  } finally {
    for (const span of spans) span.end();
  }
}
