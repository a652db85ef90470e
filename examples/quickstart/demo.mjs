// The smallest complete txbox round trip: an order and its event are written in one
// PostgreSQL transaction, a relay publishes the event to RabbitMQ with publisher confirms,
// and a consumer receives it. A second order's transaction rolls back: its event never
// leaves the database. Exits 0 only if exactly the committed events arrived.
//
//   DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
//   AMQP_URL     (default amqp://guest:guest@127.0.0.1:5672)
import { defineMessage, redactUrl } from '@txbox/core';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import amqp from 'amqplib';
import pg from 'pg';
import { z } from 'zod';

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const schema = 'txbox_demo';
const exchange = 'txbox.demo';

const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int().positive() }),
});

async function reachable() {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
  } catch (error) {
    fail(
      `PostgreSQL is not reachable at ${redactUrl(DATABASE_URL)} (${error.message}).\n` +
        '  Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n' +
        '  or point DATABASE_URL at your server.',
    );
  }
  try {
    const connection = await amqp.connect(AMQP_URL, { timeout: 3000 });
    await connection.close();
  } catch (error) {
    fail(
      `RabbitMQ is not reachable at ${redactUrl(AMQP_URL)} (${error.message || error.code}).\n` +
        '  Start it: rabbitmq-server -detached\n' +
        '  or point AMQP_URL at your broker.',
    );
  }
}

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

await reachable();
await migrateOutbox({ database: DATABASE_URL, schema });

const pool = new pg.Pool({ connectionString: DATABASE_URL });
await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.demo_orders (id text PRIMARY KEY, total_cents int NOT NULL)`);
await pool.query(`TRUNCATE ${schema}.demo_orders`);
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });

// A consumer, bound before anything is published.
const connection = await amqp.connect(AMQP_URL);
const channel = await connection.createChannel();
await channel.assertExchange(exchange, 'topic', { durable: true });
const { queue } = await channel.assertQueue('', { exclusive: true });
await channel.bindQueue(queue, exchange, 'orders.#');
const received = [];
await channel.consume(queue, (message) => {
  received.push(JSON.parse(message.content.toString()).orderId);
  channel.ack(message);
});

async function placeOrder(orderId, totalCents, { fail } = {}) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${schema}.demo_orders (id, total_cents) VALUES ($1, $2)`, [orderId, totalCents]);
    await outbox.add(client, OrderPlaced.create({ orderId, totalCents }, { key: `order:${orderId}` }));
    if (fail) throw new Error('payment provider said no');
    await client.query('COMMIT');
    return true;
  } catch {
    await client.query('ROLLBACK');
    return false;
  } finally {
    client.release();
  }
}

const relay = createRelay({ database: DATABASE_URL, amqp: AMQP_URL, schema });
await relay.start();
const results = await Promise.all([
  placeOrder(`o-${Date.now()}-1`, 1200),
  placeOrder(`o-${Date.now()}-2`, 800, { fail: true }),
  placeOrder(`o-${Date.now()}-3`, 4500),
]);
const committed = results.filter(Boolean).length;

const deadline = Date.now() + 10_000;
while (received.length < committed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
await new Promise((r) => setTimeout(r, 200)); // anything extra would show up now
await relay.stop();
const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.demo_orders`);
await connection.close();
await pool.end();

const ok = received.length === committed && rows[0].n === committed;
console.table({
  'orders attempted': results.length,
  'orders committed': committed,
  'orders rolled back': results.length - committed,
  'events received': received.length,
});
console.log(
  ok ? 'OK: every committed order published its event once; the rolled-back one published nothing.' : 'MISMATCH',
);
process.exit(ok ? 0 : 1);
