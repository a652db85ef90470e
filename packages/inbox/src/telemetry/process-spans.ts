// The inbox's side of tracing: each handler runs inside a `process <queue>` span (CONSUMER),
// child of the producer's context (the message's traceparent), so whatever the handler does —
// its queries, the messages it writes through ctx.outbox — joins the producer's trace. A
// redelivery carries its attempt and a retry event; a duplicate gets a short span of its own.
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  ATTR,
  activeTracer,
  contextFromTraceparent,
  MESSAGING_SYSTEM,
  otelApi,
  SPAN_EVENTS,
} from '@txbox/core/internal';
import type { HandlerSession } from '../database/handler-session.js';
import { INBOX_CHANNELS, type InboxMessageEvent } from '../diagnostics/inbox-diagnostics.js';
import type { ReadyDelivery } from '../triage/triage.js';

type RunHandler = (session: HandlerSession, item: ReadyDelivery) => Promise<void>;

/** `run`, inside a process span whenever a tracer is registered; `run` itself otherwise. */
export function traceProcess(consumer: { group: string; queue: () => string }, run: RunHandler): RunHandler {
  if (!otelApi()) return run;
  return (session, item) => {
    const tracer = activeTracer();
    const api = otelApi();
    if (!tracer || !api) return run(session, item);
    const { typed: envelope, attempt } = item;
    const parent = contextFromTraceparent(api, envelope.traceparent, envelope.tracestate) ?? api.context.active();
    const span = tracer.startSpan(
      `process ${consumer.queue()}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          [ATTR.system]: MESSAGING_SYSTEM,
          [ATTR.operationType]: 'process',
          [ATTR.operationName]: 'process',
          [ATTR.destination]: consumer.queue(),
          [ATTR.consumerGroup]: consumer.group,
          [ATTR.messageId]: envelope.id,
          [ATTR.messageType]: envelope.type,
          [ATTR.deliveryAttempt]: attempt,
          ...(envelope.correlationId ? { [ATTR.conversationId]: envelope.correlationId } : {}),
        },
      },
      parent,
    );
    if (attempt > 1) span.addEvent(SPAN_EVENTS.retry, { [ATTR.deliveryAttempt]: attempt });
    return api.context.with(api.trace.setSpan(parent, span), async () => {
      try {
        await run(session, item);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error)?.message });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

let subscribed = false;
/** The queue of each consumer group in this process, for the duplicate spans' names. */
const queues = new Map<string, () => string>();

/**
 * Duplicates as spans of their own (the handler did not run): subscribes once per process, when
 * @opentelemetry/api is installed, to the duplicate channel settlement publishes.
 */
export function traceDuplicates(group: string, queue: () => string): void {
  if (!otelApi()) return;
  queues.set(group, queue);
  if (subscribed) return;
  subscribed = true;
  diagnosticsChannel.subscribe(INBOX_CHANNELS.duplicate, (message) => {
    const tracer = activeTracer();
    const api = otelApi();
    if (!tracer || !api) return;
    const event = message as InboxMessageEvent;
    const queue = queues.get(event.group)?.() ?? event.group;
    const parent = contextFromTraceparent(api, event.traceparent, event.tracestate) ?? api.ROOT_CONTEXT;
    const span = tracer.startSpan(
      `process ${queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          [ATTR.system]: MESSAGING_SYSTEM,
          [ATTR.operationType]: 'process',
          [ATTR.operationName]: 'process',
          [ATTR.destination]: queue,
          [ATTR.consumerGroup]: event.group,
          ...(event.id ? { [ATTR.messageId]: event.id } : {}),
          ...(event.type ? { [ATTR.messageType]: event.type } : {}),
          [ATTR.deliveryAttempt]: event.attempt,
          [ATTR.duplicate]: true,
        },
      },
      parent,
    );
    span.addEvent(SPAN_EVENTS.duplicate);
    span.end();
  });
}
