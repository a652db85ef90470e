// Relay throughput next to its raw ceiling, in one run: drains N queued 1 KB messages with
// 1 relay (and with 3), and publishes the same messages with raw amqplib on a confirm
// channel (pipelined, waitForConfirms per batch of the same size).
//   node bench/relay-drain.mjs [--messages 20000] [--batch 500]
import { parseArgs } from 'node:util';
import { defineMessage } from '@txbox/core';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import amqp from 'amqplib';
import pg from 'pg';
import { z } from 'zod';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '20000' }, batch: { type: 'string', default: '500' } },
});
const N = Number(values.messages);
const BATCH = Number(values.batch);
const DB = process.env.TXBOX_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const AMQP = process.env.TXBOX_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const suffix = Math.random().toString(36).slice(2, 8);
const schema = `bench_relay_${suffix}`;
const exchange = `bench.relay.${suffix}`;

const Blob = defineMessage({ type: 'bench.blob', version: 1, schema: z.object({ i: z.number(), data: z.string() }) });
const data = 'x'.repeat(1000);
const pool = new pg.Pool({ connectionString: DB, max: 8 });
const connection = await amqp.connect(AMQP);
const admin = await connection.createChannel();
await admin.assertExchange(exchange, 'topic', { durable: true });
const queue = `bench.relay.${suffix}`;
await admin.assertQueue(queue, { durable: false, autoDelete: false });
await admin.bindQueue(queue, exchange, '#');

async function fill() {
  const outbox = createOutbox({ contracts: [Blob], schema, exchange, notify: false });
  const client = await pool.connect();
  for (let i = 0; i < N; i += 1000) {
    await client.query('BEGIN');
    await outbox.add(
      client,
      Array.from({ length: Math.min(1000, N - i) }, (_, j) => Blob.create({ i: i + j, data })),
    );
    await client.query('COMMIT');
  }
  client.release();
}

async function drain(relays) {
  await fill();
  await admin.purgeQueue(queue);
  const instances = Array.from({ length: relays }, (_, i) =>
    createRelay({
      database: DB,
      amqp: AMQP,
      schema,
      batchSize: BATCH,
      relayId: `bench-${i}`,
      listen: false,
      pollIntervalMs: 50,
    }),
  );
  const started = performance.now();
  await Promise.all(instances.map((relay) => relay.start()));
  for (;;) {
    const { messageCount } = await admin.checkQueue(queue);
    if (messageCount >= N) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(instances.map((r) => r.stop()));
  const { messageCount } = await admin.checkQueue(queue);
  return { msgsPerSec: Math.round(N / seconds), seconds, arrived: messageCount };
}

async function rawCeiling() {
  await admin.purgeQueue(queue);
  const channel = await connection.createConfirmChannel();
  const body = Buffer.from(JSON.stringify({ i: 0, data }));
  const started = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      channel.publish(exchange, 'bench.blob', body, { persistent: true, messageId: String(j), mandatory: true });
    }
    await channel.waitForConfirms();
  }
  const seconds = (performance.now() - started) / 1000;
  await channel.close();
  return { msgsPerSec: Math.round(N / seconds), seconds };
}

await migrateOutbox({ database: DB, schema });
const ceiling = await rawCeiling();
const one = await drain(1);
const three = await drain(3);
const result = {
  messages: N,
  batch: BATCH,
  ceilingPerSec: ceiling.msgsPerSec,
  relay1PerSec: one.msgsPerSec,
  relay3PerSec: three.msgsPerSec,
  ratio1: +(one.msgsPerSec / ceiling.msgsPerSec).toFixed(2),
  ratio3: +(three.msgsPerSec / ceiling.msgsPerSec).toFixed(2),
  arrived: [one.arrived, three.arrived],
};
console.table(result);
await admin.deleteQueue(queue);
await admin.deleteExchange(exchange);
await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
await pool.end();
await connection.close();
