// W3C trace context in the envelope's `traceparent` / `tracestate` fields, written and read here
// rather than through the application's propagator: the fields are W3C by definition, and a
// service that registered a tracer but no propagator still gets connected traces.
import type { Context, OtelApi, SpanContext } from './otel-api.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The context a message's trace fields describe, as a remote parent; undefined when absent or invalid. */
export function contextFromTraceparent(
  api: OtelApi,
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
): Context | undefined {
  if (!traceparent) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (!match || match[1] === 'ff') return undefined;
  const spanContext: SpanContext = {
    traceId: match[2] as string,
    spanId: match[3] as string,
    traceFlags: Number.parseInt(match[4] as string, 16),
    isRemote: true,
    ...(tracestate ? { traceState: api.createTraceState(tracestate) } : {}),
  };
  if (!api.trace.isSpanContextValid(spanContext)) return undefined;
  return api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext);
}
