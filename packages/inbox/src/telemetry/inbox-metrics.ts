// The inbox's metrics on OpenTelemetry, fed by the consumer's diagnostics channels (settlement
// publishes them; it holds no metrics code). Every instrument carries the consumer group.
//
// | instrument | kind | unit |
// |---|---|---|
// | txbox.inbox.processed | counter | {message} |
// | txbox.inbox.duplicates | counter | {message}: skipped, already processed by the group |
// | txbox.inbox.retries | counter | {message}: sent to a delay queue |
// | txbox.inbox.dead_letters | counter | {message}: sent to the dead-letter queue |
// | txbox.inbox.handler.duration | histogram | s |
import diagnosticsChannel from 'node:diagnostics_channel';
import { ATTR, instrumentsFor, otelApi } from '@txbox/core/internal';
import { INBOX_CHANNELS, type InboxMessageEvent } from '../diagnostics/inbox-diagnostics.js';

export const INBOX_METRICS = {
  processed: 'txbox.inbox.processed',
  duplicates: 'txbox.inbox.duplicates',
  retries: 'txbox.inbox.retries',
  deadLetters: 'txbox.inbox.dead_letters',
  handlerDuration: 'txbox.inbox.handler.duration',
} as const;

const instruments = instrumentsFor((meter) => ({
  processed: meter.createCounter(INBOX_METRICS.processed, { unit: '{message}', description: 'Handlers committed' }),
  duplicates: meter.createCounter(INBOX_METRICS.duplicates, {
    unit: '{message}',
    description: 'Deliveries skipped: the group already processed the id',
  }),
  retries: meter.createCounter(INBOX_METRICS.retries, {
    unit: '{message}',
    description: 'Deliveries sent to a delay queue',
  }),
  deadLetters: meter.createCounter(INBOX_METRICS.deadLetters, {
    unit: '{message}',
    description: 'Deliveries sent to the dead-letter queue',
  }),
  duration: meter.createHistogram(INBOX_METRICS.handlerDuration, {
    unit: 's',
    description: 'Handler duration, of committed handlers',
  }),
}));

let subscribed = false;

/** Subscribes the instruments to the consumer's channels, once per process, when @opentelemetry/api is installed. */
export function enableInboxMetrics(): void {
  if (subscribed || !otelApi()) return;
  subscribed = true;
  const on = (
    channel: string,
    record: (i: NonNullable<ReturnType<typeof instruments>>, e: InboxMessageEvent) => void,
  ) =>
    diagnosticsChannel.subscribe(channel, (message) => {
      const i = instruments();
      if (i) record(i, message as InboxMessageEvent);
    });
  const group = (e: InboxMessageEvent) => ({ [ATTR.consumerGroup]: e.group });
  on(INBOX_CHANNELS.processed, (i, e) => {
    i.processed.add(1, group(e));
    if (e.durationMs !== undefined) i.duration.record(e.durationMs / 1000, group(e));
  });
  on(INBOX_CHANNELS.duplicate, (i, e) => i.duplicates.add(1, group(e)));
  on(INBOX_CHANNELS.retried, (i, e) => i.retries.add(1, group(e)));
  on(INBOX_CHANNELS.deadLettered, (i, e) =>
    i.deadLetters.add(1, { ...group(e), 'txbox.dead_letter.reason': e.reason ?? '' }),
  );
}
