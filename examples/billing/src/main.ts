// The billing service without a framework: a pg pool, one shared AMQP connection, a relay for
// its own outbox and a consumer for its inbox, all in one process.

import { AmqpConnection, consoleLogger } from '@txbox/core';
import { createConsumer } from '@txbox/inbox';
import { createOutbox, createRelay } from '@txbox/outbox';
import { PaymentFailed, PaymentSucceeded } from '@txbox-examples/contracts';
import pg from 'pg';
import { chargeOrderHandler } from './charge-order.js';
import { FakePaymentProvider } from './payment-provider.js';
import { BILLING_GROUP, BILLING_RETRY_DELAYS_MS, readBillingSettings } from './settings.js';

const settings = readBillingSettings();
const logger = consoleLogger(); // warnings and errors, to stderr

// One pool for the handlers' transactions, the relay and stats; txbox borrows it, never ends it.
const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: settings.concurrency + 6 });
pool.on('error', () => {}); // an idle client losing its connection must not crash the process
const amqp = new AmqpConnection({ url: settings.amqpUrl, connectionName: 'billing', logger });

const outbox = createOutbox({ contracts: [PaymentSucceeded, PaymentFailed], exchange: settings.exchange });
const provider = new FakePaymentProvider(settings.providerLatencyMs, settings.chargeLimitCents);

const consumer = createConsumer({
  group: BILLING_GROUP,
  database: pool,
  amqp,
  exchange: settings.exchange,
  concurrency: settings.concurrency,
  retry: { delaysMs: BILLING_RETRY_DELAYS_MS },
  outbox, // ctx.outbox writes in the handler's transaction
  handlers: [chargeOrderHandler(provider)],
  logger,
});

const relay = createRelay({
  database: pool,
  amqp,
  // A short lease: if this process dies holding claimed messages, another billing instance (or
  // this one, restarted) publishes them after 5 s. Confirms must come back well within it.
  leaseMs: 5000,
  publishTimeoutMs: 2000,
  // Keep published rows (with published_at) so the demo can count and replay them; retention
  // deletes them after 7 days.
  published: 'keep',
  logger,
});

await relay.start();
await consumer.start();
report('ready', { group: BILLING_GROUP, queue: consumer.topology.queue, chargeLimitCents: settings.chargeLimitCents });

// Stats as one JSON line on stdout every 200 ms: a stand-in for a metrics endpoint.
const statsTimer = setInterval(() => void reportStats(), 200);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(statsTimer);
  // Consumer first (its handlers write to the outbox), then the relay, then what they share.
  await consumer.stop();
  await relay.stop();
  await reportStats();
  await amqp.close();
  await pool.end();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
if (settings.exitWithParent) process.stdin.on('end', () => void shutdown()).resume();

async function reportStats(): Promise<void> {
  try {
    report('stats', { consumer: await consumer.stats(), outbox: await relay.stats() });
  } catch {
    // The database is briefly unreachable: the next tick reports.
  }
}

function report(event: string, data: object): void {
  process.stdout.write(`@demo ${JSON.stringify({ service: 'billing', event, ...data })}\n`);
}
