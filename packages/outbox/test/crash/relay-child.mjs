// A relay in its own process, for crash tests: configured by env vars, prints READY once
// started, and runs until killed (SIGTERM stops it gracefully, SIGKILL does not).
//
//   TXBOX_DATABASE_URL, TXBOX_AMQP_URL, TXBOX_SCHEMA, TXBOX_RELAY_ID (required)
//   TXBOX_BATCH_SIZE, TXBOX_LEASE_MS, TXBOX_PUBLISH_TIMEOUT_MS, TXBOX_POLL_INTERVAL_MS (optional)
//   TXBOX_RELAY_MODE=wal and TXBOX_SLOT: a WalRelay on that slot instead (prints STREAMING once it
//   holds the slot)
import diagnosticsChannel from 'node:diagnostics_channel';
import { createRelay, createWalRelay, OUTBOX_CHANNELS } from '@txbox/outbox';
import { announceReady, numberEnv, requiredEnv } from '../../../../test-support/child-process.mjs';

const wal = process.env.TXBOX_RELAY_MODE === 'wal';
const options = {
  database: requiredEnv('TXBOX_DATABASE_URL'),
  amqp: requiredEnv('TXBOX_AMQP_URL'),
  schema: requiredEnv('TXBOX_SCHEMA'),
  relayId: requiredEnv('TXBOX_RELAY_ID'),
  batchSize: numberEnv('TXBOX_BATCH_SIZE', 500),
  leaseMs: numberEnv('TXBOX_LEASE_MS', 3000),
  publishTimeoutMs: numberEnv('TXBOX_PUBLISH_TIMEOUT_MS', 2000),
  pollIntervalMs: numberEnv('TXBOX_POLL_INTERVAL_MS', 200),
  retention: { intervalMs: 0 },
  logger: {
    debug() {},
    info() {},
    warn: (msg, fields) => process.stderr.write(`WARN ${msg} ${JSON.stringify(fields ?? {})}\n`),
    error: (msg, fields) => process.stderr.write(`ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  },
};
const relay = wal
  ? createWalRelay({ ...options, slot: requiredEnv('TXBOX_SLOT'), standbyRetryMs: 200 })
  : createRelay(options);

diagnosticsChannel.subscribe(OUTBOX_CHANNELS.batch, (event) => {
  process.stdout.write(`BATCH claimed=${event.claimed} published=${event.published} retried=${event.retried}\n`);
});

process.on('SIGTERM', () => {
  relay.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

await relay.start();
announceReady();
if (wal) {
  const announce = setInterval(() => {
    if (!relay.isStreaming) return;
    clearInterval(announce);
    process.stdout.write('STREAMING\n');
  }, 20);
}
// The relay's timers keep the process alive; this keeps it alive even when they are unref'd.
setInterval(() => {}, 60_000);
