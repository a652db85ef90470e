// @ts-check
// One outbox relay in its own process (the orchestrator SIGKILLs and restarts it).
//   CHAOS_DATABASE_URL, CHAOS_AMQP_URL (through the role's TCP proxy; a comma-separated list on the cluster), CHAOS_RELAY_ID
//   CHAOS_RELAY_MODE=wal and CHAOS_SLOT: a WalRelay streaming that slot (one streams, one stands by)
import diagnosticsChannel from 'node:diagnostics_channel';
import { createRelay, createWalRelay, OUTBOX_CHANNELS } from '@txbox/outbox';
import { amqpUrlsEnv, announceReady, numberEnv, reportCrashes, requiredEnv, stderrLogger } from './common.mjs';

const relayId = requiredEnv('CHAOS_RELAY_ID');
reportCrashes(relayId);

const counters = { batches: 0, published: 0, retried: 0, deadLettered: 0, leaseLost: 0, errors: 0 };
diagnosticsChannel.subscribe(OUTBOX_CHANNELS.batch, (message) => {
  const e = /** @type {import('@txbox/outbox').RelayBatchEvent} */ (message);
  counters.batches += 1;
  counters.published += e.published;
  counters.retried += e.retried;
  counters.deadLettered += e.deadLettered;
});
diagnosticsChannel.subscribe(OUTBOX_CHANNELS.leaseLost, () => {
  counters.leaseLost += 1;
});
diagnosticsChannel.subscribe(OUTBOX_CHANNELS.deadLettered, (message) => {
  const e = /** @type {import('@txbox/outbox').DeadLetteredEvent} */ (message);
  process.stdout.write(`OUTBOX_DEAD_LETTER ${e.id} ${JSON.stringify(e.reason)} ${JSON.stringify(e.error)}\n`);
});
diagnosticsChannel.subscribe(OUTBOX_CHANNELS.error, () => {
  counters.errors += 1;
});

/** @type {import('@txbox/outbox').OutboxRelayOptions} */
const options = {
  database: requiredEnv('CHAOS_DATABASE_URL'),
  amqp: amqpUrlsEnv(),
  relayId,
  batchSize: numberEnv('CHAOS_BATCH_SIZE', 50),
  leaseMs: numberEnv('CHAOS_LEASE_MS', 4000),
  publishTimeoutMs: numberEnv('CHAOS_PUBLISH_TIMEOUT_MS', 2500),
  pollIntervalMs: numberEnv('CHAOS_POLL_INTERVAL_MS', 250),
  stopTimeoutMs: 5000,
  retention: { intervalMs: 0 },
  logger: stderrLogger(),
};
const relay =
  process.env.CHAOS_RELAY_MODE === 'wal'
    ? createWalRelay({ ...options, slot: requiredEnv('CHAOS_SLOT'), standbyRetryMs: 500 })
    : createRelay(options);

process.on('SIGTERM', () => {
  relay.stop().then(
    () => {
      process.stdout.write(`STATS ${JSON.stringify(counters)}\n`);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`stop failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    },
  );
});

await relay.start();
announceReady();
setInterval(() => {}, 60_000);
