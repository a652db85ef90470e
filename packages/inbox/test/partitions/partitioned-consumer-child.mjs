// A partitioned consumer in its own process, for the tests that SIGKILL one: configured by env
// vars, prints READY once started and `OWNS <json>` whenever its partitions change, runs until killed.
//   TXBOX_DATABASE_URL, TXBOX_AMQP_URL, TXBOX_SCHEMA, TXBOX_EXCHANGE, TXBOX_GROUP, TXBOX_PARTITIONS, TXBOX_INSTANCE
import { announceReady, requiredEnv } from '../../../../test-support/child-process.mjs';
import { partitionedConsumer } from './partition-support.mjs';

const consumer = partitionedConsumer({
  group: requiredEnv('TXBOX_GROUP'),
  database: requiredEnv('TXBOX_DATABASE_URL'),
  amqp: requiredEnv('TXBOX_AMQP_URL'),
  schema: requiredEnv('TXBOX_SCHEMA'),
  exchange: requiredEnv('TXBOX_EXCHANGE'),
  instance: requiredEnv('TXBOX_INSTANCE'),
  partitions: Number(requiredEnv('TXBOX_PARTITIONS')),
  logger: {
    debug() {},
    info() {},
    warn: (msg, fields) => process.stderr.write(`WARN ${msg} ${JSON.stringify(fields ?? {})}\n`),
    error: (msg, fields) => process.stderr.write(`ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  },
});

await consumer.start();
announceReady();
let last = '';
setInterval(async () => {
  const owned = JSON.stringify((await consumer.stats()).partitions?.owned ?? []);
  if (owned !== last) process.stdout.write(`OWNS ${owned}\n`);
  last = owned;
}, 50);
