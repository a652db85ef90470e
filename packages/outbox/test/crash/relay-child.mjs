// A relay in its own process, for crash tests: configured by env vars, prints READY once
// started, and runs until killed (SIGTERM stops it gracefully, SIGKILL does not).
//
//   TXBOX_DATABASE_URL, TXBOX_AMQP_URL, TXBOX_SCHEMA, TXBOX_RELAY_ID (required)
//   TXBOX_BATCH_SIZE, TXBOX_LEASE_MS, TXBOX_PUBLISH_TIMEOUT_MS, TXBOX_POLL_INTERVAL_MS (optional)
import diagnosticsChannel from 'node:diagnostics_channel';
import { createRelay, OUTBOX_CHANNELS } from '@txbox/outbox';

function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`missing env ${name}\n`);
    process.exit(2);
  }
  return value;
}

const number = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

const relay = createRelay({
  database: required('TXBOX_DATABASE_URL'),
  amqp: required('TXBOX_AMQP_URL'),
  schema: required('TXBOX_SCHEMA'),
  relayId: required('TXBOX_RELAY_ID'),
  batchSize: number('TXBOX_BATCH_SIZE', 500),
  leaseMs: number('TXBOX_LEASE_MS', 3000),
  publishTimeoutMs: number('TXBOX_PUBLISH_TIMEOUT_MS', 2000),
  pollIntervalMs: number('TXBOX_POLL_INTERVAL_MS', 200),
  retention: { intervalMs: 0 },
  logger: {
    debug() {},
    info() {},
    warn: (msg, fields) => process.stderr.write(`WARN ${msg} ${JSON.stringify(fields ?? {})}\n`),
    error: (msg, fields) => process.stderr.write(`ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  },
});

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
process.stdout.write('READY\n');
// The relay's timers keep the process alive; this keeps it alive even when they are unref'd.
setInterval(() => {}, 60_000);
