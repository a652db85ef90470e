// @ts-check
// One inbox consumer instance in its own process (the orchestrator SIGKILLs and restarts it).
//   CHAOS_DATABASE_URL, CHAOS_AMQP_URL (through the role's TCP proxy; a comma-separated list on the cluster), CHAOS_EXCHANGE,
//   CHAOS_GROUP, CHAOS_INSTANCE, CHAOS_PARTITIONS (JSON `partitions` option: a partitioned group),
//   CHAOS_QUEUE_TYPE (classic | quorum)
//
// Every handler writes one row into chaos.effects with the handler's transaction client; the
// table has no unique constraint, so a double application shows up as two rows. The row also
// records, at insert time, the highest key_seq of the same key already applied in the group
// (prev_max): prev_max > key_seq means this message was applied after a later one of its key.
import diagnosticsChannel from 'node:diagnostics_channel';
import { createConsumer, defineHandler, INBOX_CHANNELS, NonRetryableError } from '@txbox/inbox';
import { ChaosChecked, ChaosEvent, ChaosPoison, ChaosVersioned, CONSUMER_RETRY_DELAYS_MS } from '../lib/contracts.mjs';
import { amqpUrlsEnv, announceReady, numberEnv, reportCrashes, requiredEnv, sleep, stderrLogger } from './common.mjs';

const group = requiredEnv('CHAOS_GROUP');
const instance = requiredEnv('CHAOS_INSTANCE');
reportCrashes(instance);

const INSERT_EFFECT = `INSERT INTO chaos.effects (grp, message_id, key, key_seq, prev_max, instance, attempt)
SELECT $1, x.id, $3, l.key_seq,
  (SELECT max(e.key_seq) FROM chaos.effects e WHERE e.grp = $1 AND e.key = $3),
  $4, $5
FROM (SELECT $2::uuid AS id) x LEFT JOIN chaos.ledger l ON l.id = x.id`;

/** @param {import('@txbox/inbox').HandlerContext} ctx */
async function applyEffect(ctx) {
  // A little work inside the transaction widens the windows the faults can hit.
  if (Math.random() < 0.3) await sleep(Math.floor(Math.random() * 4));
  await ctx.client.query(INSERT_EFFECT, [group, ctx.envelope.id, ctx.envelope.key, instance, ctx.attempt]);
}

// Ids that had a failed attempt in this instance (retried through a delay queue, or left
// unsettled): the checker uses them to explain a key's reordering.
diagnosticsChannel.subscribe(INBOX_CHANNELS.retried, (message) => {
  const e = /** @type {import('@txbox/inbox').InboxMessageEvent} */ (message);
  process.stdout.write(`RETRIED ${e.id} ${e.attempt}\n`);
});
const warnLogger = stderrLogger((msg, fields) => {
  if (msg.startsWith('Inbox could not settle') && fields.id) process.stdout.write(`UNSETTLED ${fields.id}\n`);
});
/** @type {import('@txbox/inbox').InboxConsumerOptions['partitions']} */
const partitions = process.env.CHAOS_PARTITIONS ? JSON.parse(process.env.CHAOS_PARTITIONS) : undefined;
// Each partition hand-over or take-over of this instance, for the run's rebalancing count.
/** @type {import('@txbox/core').TxboxLogger} */
const logger = {
  ...warnLogger,
  info: (msg, fields) => {
    if (msg === 'Inbox partitions rebalanced') process.stdout.write(`REBALANCED ${JSON.stringify(fields ?? {})}\n`);
    warnLogger.info(msg, fields);
  },
};

const consumer = createConsumer({
  group,
  database: requiredEnv('CHAOS_DATABASE_URL'),
  amqp: amqpUrlsEnv(),
  exchange: requiredEnv('CHAOS_EXCHANGE'),
  concurrency: numberEnv('CHAOS_CONCURRENCY', 4),
  prefetch: numberEnv('CHAOS_PREFETCH', 16),
  retry: { delaysMs: CONSUMER_RETRY_DELAYS_MS },
  retention: { intervalMs: 0 },
  stopTimeoutMs: 5000,
  ...(partitions ? { partitions } : {}),
  // The cluster profile runs the groups on quorum queues.
  queueType: process.env.CHAOS_QUEUE_TYPE === 'quorum' ? 'quorum' : 'classic',
  handlers: [
    defineHandler(ChaosEvent, async (_p, ctx) => applyEffect(ctx)),
    defineHandler(ChaosChecked, async (_p, ctx) => applyEffect(ctx)),
    defineHandler(ChaosVersioned, async (_p, ctx) => applyEffect(ctx)),
    defineHandler(ChaosPoison, async (payload, ctx) => {
      // Written, then rolled back with the failing handler: must never be seen.
      await applyEffect(ctx);
      if (payload.mode === 'fatal') throw new NonRetryableError('chaos poison: refused for good');
      throw new Error('chaos poison: always fails');
    }),
  ],
  logger,
});

process.on('SIGTERM', () => {
  consumer.stop().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`stop failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    },
  );
});

// As a service would: if start() fails (broker unreachable at that moment), try again.
for (let attempt = 1; ; attempt++) {
  try {
    await consumer.start();
    break;
  } catch (error) {
    process.stderr.write(
      `start attempt ${attempt} failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    await sleep(1000);
  }
}
announceReady();
setInterval(() => {}, 60_000);
