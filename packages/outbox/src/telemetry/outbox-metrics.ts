// The outbox's metrics on OpenTelemetry, fed by the relay's diagnostics channels (so the relay
// loop holds no metrics code) and, for the gauges, by the stats query at collection time.
//
// | instrument | kind | unit |
// |---|---|---|
// | txbox.outbox.published | counter | {message} |
// | txbox.outbox.publish_failures | counter | {message}: not confirmed (retried or dead-lettered) |
// | txbox.outbox.dead_lettered | counter | {message} |
// | txbox.outbox.pending | gauge | {message} |
// | txbox.outbox.due | gauge | {message} |
// | txbox.outbox.oldest_due_age | gauge | ms |
// | txbox.outbox.dead_letters | gauge | {message}: rows in the dead-letter table |
import diagnosticsChannel from 'node:diagnostics_channel';
import { activeMeter, instrumentsFor, otelApi } from '@txbox/core/internal';
import { type DeadLetteredEvent, OUTBOX_CHANNELS, type RelayBatchEvent } from '../diagnostics/outbox-diagnostics.js';
import type { OutboxStats } from '../stats/stats.js';

export const OUTBOX_METRICS = {
  published: 'txbox.outbox.published',
  publishFailures: 'txbox.outbox.publish_failures',
  deadLettered: 'txbox.outbox.dead_lettered',
  pending: 'txbox.outbox.pending',
  due: 'txbox.outbox.due',
  oldestDueAge: 'txbox.outbox.oldest_due_age',
  deadLetters: 'txbox.outbox.dead_letters',
} as const;

const counters = instrumentsFor((meter) => ({
  published: meter.createCounter(OUTBOX_METRICS.published, {
    unit: '{message}',
    description: 'Messages the broker confirmed',
  }),
  failures: meter.createCounter(OUTBOX_METRICS.publishFailures, {
    unit: '{message}',
    description: 'Publishes not confirmed (retried later or dead-lettered)',
  }),
  deadLettered: meter.createCounter(OUTBOX_METRICS.deadLettered, {
    unit: '{message}',
    description: 'Messages the relay gave up on',
  }),
}));

let subscribed = false;

/** Subscribes the counters to the relay's channels, once per process, when @opentelemetry/api is installed. */
export function enableOutboxMetrics(): void {
  if (subscribed || !otelApi()) return;
  subscribed = true;
  diagnosticsChannel.subscribe(OUTBOX_CHANNELS.batch, (message) => {
    const event = message as RelayBatchEvent;
    const c = counters();
    if (!c) return;
    if (event.published > 0) c.published.add(event.published);
    const failed = event.retried + event.deadLettered;
    if (failed > 0) c.failures.add(failed);
  });
  diagnosticsChannel.subscribe(OUTBOX_CHANNELS.deadLettered, (message) => {
    counters()?.deadLettered.add(1, { 'txbox.dead_letter.reason': (message as DeadLetteredEvent).reason });
  });
}

/**
 * Registers the backlog gauges of one outbox schema, read by `stats` at each collection. Returns
 * the function that removes them (the relay calls it at stop). Register the application's
 * MeterProvider before starting the relay: the gauges are created on the meter found then.
 */
export function observeOutboxStats(schema: string, stats: () => Promise<OutboxStats>): () => void {
  const meter = activeMeter();
  if (!meter) return () => {};
  const attributes = { 'txbox.outbox.schema': schema };
  const pending = meter.createObservableGauge(OUTBOX_METRICS.pending, {
    unit: '{message}',
    description: 'Messages not yet published',
  });
  const due = meter.createObservableGauge(OUTBOX_METRICS.due, {
    unit: '{message}',
    description: 'Due messages waiting for a relay',
  });
  const age = meter.createObservableGauge(OUTBOX_METRICS.oldestDueAge, {
    unit: 'ms',
    description: 'Age of the oldest due message (relay lag)',
  });
  const dead = meter.createObservableGauge(OUTBOX_METRICS.deadLetters, {
    unit: '{message}',
    description: 'Rows in the dead-letter table',
  });
  const callback = async (result: {
    observe(gauge: typeof pending, value: number, attributes: Record<string, string>): void;
  }) => {
    let s: OutboxStats;
    try {
      s = await stats();
    } catch {
      return; // The database is unreachable: no observation rather than a wrong one.
    }
    result.observe(pending, s.pending, attributes);
    result.observe(due, s.due, attributes);
    result.observe(age, s.oldestDueAgeMs, attributes);
    result.observe(dead, s.deadLetters, attributes);
  };
  const observables = [pending, due, age, dead];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
