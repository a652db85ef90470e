// The writer's side: every message written without an explicit `traceparent` gets a `create`
// span, child of the active context, and carries that span's context to the consumers. With a
// context but no tracer registered, the active context itself is carried.
import { ATTR, MESSAGING_SYSTEM } from './messaging-spans.js';
import { activeTracer, otelApi } from './otel-api.js';
import { formatTraceparent } from './trace-context.js';

/** The row fields the writer fills in (structurally the writer's own row). */
export interface TraceableRow {
  id: string;
  type: string;
  exchange: string;
  routing_key: string;
  correlation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
}

/** Fills `traceparent`/`tracestate` of rows that have none. Free without @opentelemetry/api. */
export function traceCreate(rows: readonly TraceableRow[]): void {
  const api = otelApi();
  if (!api) return;
  const parent = api.context.active();
  const tracer = activeTracer();
  if (!tracer) {
    const active = api.trace.getSpanContext(parent);
    if (!active || !api.trace.isSpanContextValid(active)) return;
    for (const row of rows) {
      if (row.traceparent !== null) continue;
      row.traceparent = formatTraceparent(active);
      row.tracestate = active.traceState?.serialize() || null;
    }
    return;
  }
  for (const row of rows) {
    if (row.traceparent !== null) continue;
    const span = tracer.startSpan(
      `create ${row.exchange}`,
      {
        kind: api.SpanKind.PRODUCER,
        attributes: {
          [ATTR.system]: MESSAGING_SYSTEM,
          [ATTR.operationType]: 'create',
          [ATTR.operationName]: 'create',
          [ATTR.destination]: row.exchange,
          [ATTR.routingKey]: row.routing_key,
          [ATTR.messageId]: row.id,
          [ATTR.messageType]: row.type,
          ...(row.correlation_id ? { [ATTR.conversationId]: row.correlation_id } : {}),
        },
      },
      parent,
    );
    const context = span.spanContext();
    row.traceparent = formatTraceparent(context);
    row.tracestate = context.traceState?.serialize() || null;
    span.end();
  }
}
