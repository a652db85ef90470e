import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Lifecycle events on `node:diagnostics_channel`, for metrics and tracing libraries:
 * `diagnosticsChannel.subscribe(OUTBOX_CHANNELS.batch, (event) => ...)`.
 */
export const OUTBOX_CHANNELS = {
  /** After every relay batch: {@link RelayBatchEvent}. */
  batch: 'txbox:outbox:batch',
  /** A message was dead-lettered: {@link DeadLetteredEvent}. */
  deadLettered: 'txbox:outbox:dead-lettered',
  /** A relay found its lease taken over while settling: { relayId, expected, settled }. */
  leaseLost: 'txbox:outbox:lease-lost',
  /** A relay loop error (it keeps running): { relayId, error }. */
  error: 'txbox:outbox:error',
  /** Relay started / stopped: { relayId }. */
  started: 'txbox:outbox:started',
  stopped: 'txbox:outbox:stopped',
} as const;

export interface RelayBatchEvent {
  relayId: string;
  claimed: number;
  published: number;
  retried: number;
  deadLettered: number;
  unroutable: number;
  durationMs: number;
}

export interface DeadLetteredEvent {
  relayId: string;
  id: string;
  type: string;
  reason: string;
  error: string;
}

export const outboxChannels = {
  batch: diagnosticsChannel.channel(OUTBOX_CHANNELS.batch),
  deadLettered: diagnosticsChannel.channel(OUTBOX_CHANNELS.deadLettered),
  leaseLost: diagnosticsChannel.channel(OUTBOX_CHANNELS.leaseLost),
  error: diagnosticsChannel.channel(OUTBOX_CHANNELS.error),
  started: diagnosticsChannel.channel(OUTBOX_CHANNELS.started),
  stopped: diagnosticsChannel.channel(OUTBOX_CHANNELS.stopped),
};
