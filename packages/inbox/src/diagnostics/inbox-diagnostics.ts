// Typed lifecycle events for metrics and tracing libraries, on node:diagnostics_channel: a
// subscriber costs nothing when absent and needs no hook in the consumer's options.
// The channel names are public API; the events are published by settlement and the channel code.
import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Lifecycle events on `node:diagnostics_channel` for metrics and tracing:
 * `diagnosticsChannel.subscribe(INBOX_CHANNELS.processed, (event) => ...)`.
 */
export const INBOX_CHANNELS = {
  /** A handler committed: {@link InboxMessageEvent} with `durationMs`. */
  processed: 'txbox:inbox:processed',
  /** A delivery of an id already processed by the group was skipped. */
  duplicate: 'txbox:inbox:duplicate',
  /** A failed message was sent to a delay queue: adds `delayMs` and `error`. */
  retried: 'txbox:inbox:retried',
  /** A message went to the dead-letter queue: adds `reason` and `error`. */
  deadLettered: 'txbox:inbox:dead-lettered',
  /** A consumer error that is not about one message (connection, channel): { group, error }. */
  error: 'txbox:inbox:error',
} as const;

export interface InboxMessageEvent {
  group: string;
  id: string | undefined;
  type: string | undefined;
  attempt: number;
  durationMs?: number;
  delayMs?: number;
  reason?: string;
  error?: string;
  /** The message's W3C trace context, for tracing libraries. */
  traceparent?: string | null;
  tracestate?: string | null;
}

export const inboxChannels = {
  processed: diagnosticsChannel.channel(INBOX_CHANNELS.processed),
  duplicate: diagnosticsChannel.channel(INBOX_CHANNELS.duplicate),
  retried: diagnosticsChannel.channel(INBOX_CHANNELS.retried),
  deadLettered: diagnosticsChannel.channel(INBOX_CHANNELS.deadLettered),
  error: diagnosticsChannel.channel(INBOX_CHANNELS.error),
};
