// The scenario: two services with a database each run the order/payment saga while the demo
// crashes billing mid-run and replays a burst of duplicates, then checks that every effect
// happened exactly once. run.mjs imports the compiled module once the workspaces are built.
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type GroupTopology, groupTopology } from '@txbox/inbox';
import { encodeOutboxRow, type OutboxRowLike } from '@txbox/outbox';
import { BILLING_GROUP, BILLING_RETRY_DELAYS_MS } from '@txbox-examples/billing/settings';
import { ORDERS_GROUP, ORDERS_RETRY_DELAYS_MS } from '@txbox-examples/orders/settings';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import pg from 'pg';
import { DemoError } from './demo-error.js';
import { ServiceProcess } from './service-process.js';
import { type DemoNumbers, type PlannedOrder, printSummary } from './summary.js';

const script = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const ORDERS_MAIN = script('../../orders/dist/main.js');
const ORDERS_MIGRATE = script('../../orders/dist/migrate.js');
const BILLING_MAIN = script('../../billing/dist/main.js');
const BILLING_MIGRATE = script('../../billing/dist/migrate.js');

const DATABASES = { orders: 'txbox_demo_orders', billing: 'txbox_demo_billing' } as const;
/** Orders placed before billing is killed, and while it is down. */
const WAVES = [40, 20] as const;
/** Billing is killed once it has charged this many orders of the first wave. */
const KILL_AFTER_CHARGES = 10;
const HTTP_CONCURRENCY = 8;
const STARTUP_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 45_000;

export interface SagaOptions {
  /** A database on the server where the demo creates its two databases. */
  databaseUrl: string;
  amqpUrl: string;
  /** Stream the services' output. */
  verbose: boolean;
  /** Leave the demo's queues and exchange in the broker afterwards. */
  keep: boolean;
  log: (line: string) => void;
}

interface Databases {
  orders: pg.Pool;
  billing: pg.Pool;
}

/** Runs the scenario and prints the summary; resolves true when every check passed. */
export async function runSaga({ databaseUrl, amqpUrl, verbose, keep, log }: SagaOptions): Promise<boolean> {
  const exchange = `txbox-demo.${Date.now().toString(36)}`;
  const urls = {
    orders: databaseUrlFor(databaseUrl, DATABASES.orders),
    billing: databaseUrlFor(databaseUrl, DATABASES.billing),
  };
  const topologies = [
    topologyOf(ORDERS_GROUP, exchange, ORDERS_RETRY_DELAYS_MS),
    topologyOf(BILLING_GROUP, exchange, BILLING_RETRY_DELAYS_MS),
  ];
  const queues = topologies.flatMap((t) => [t.queue, t.deadLetterQueue, ...t.delayQueues.map((d) => d.name)]);
  const processes: ServiceProcess[] = [];
  const start = (name: string, entry: string, databaseUrl: string, env: Record<string, string> = {}) => {
    const service = new ServiceProcess(
      name,
      entry,
      { ...env, DATABASE_URL: databaseUrl, AMQP_URL: amqpUrl, EXCHANGE: exchange },
      { verbose },
    );
    processes.push(service);
    return service;
  };
  let db: Databases | undefined;
  let broker: Broker | undefined;
  /** What the demo is doing, for the message if it fails. */
  let phase = 'creating the databases';

  try {
    // 1. Fresh databases, one per service, migrated the way each service deploys.
    await recreateDatabases(databaseUrl, Object.values(DATABASES));
    await Promise.all([
      migrate(start('orders migrate', ORDERS_MIGRATE, urls.orders)),
      migrate(start('billing migrate', BILLING_MIGRATE, urls.billing)),
    ]);
    log(`databases ${DATABASES.orders} and ${DATABASES.billing} created and migrated`);
    phase = 'cleaning up queues of an earlier run';
    db = {
      orders: new pg.Pool({ connectionString: urls.orders, max: 2 }),
      billing: new pg.Pool({ connectionString: urls.billing, max: 2 }),
    };
    const { orders: ordersDb, billing: billingDb } = db;

    // 2. A clean broker: queues an earlier run left go; this run gets its own exchange.
    broker = await Broker.open(amqpUrl);
    await broker.deleteQueues(queues);

    // 3. Both services, as child processes.
    phase = 'starting the services';
    const orders = start('orders', ORDERS_MAIN, urls.orders, { PORT: '0' });
    let billing = start('billing#1', BILLING_MAIN, urls.billing);
    const [ordersReady, billingReady] = await Promise.all([
      orders.waitUntilReady(STARTUP_TIMEOUT_MS),
      billing.waitUntilReady(STARTUP_TIMEOUT_MS),
    ]);
    const ordersUrl = ordersReady.url as string;
    log(`orders (NestJS + TypeORM) listening on ${ordersUrl}; billing (pg + amqplib) consuming; exchange ${exchange}`);

    // 4. The first wave; billing is SIGKILLed while it works through it.
    phase = 'placing orders and killing billing';
    const plan = planOrders(WAVES[0] + WAVES[1], billingReady.chargeLimitCents as number);
    const firstWave = placeOrders(ordersUrl, plan.slice(0, WAVES[0]));
    await waitFor(
      async () => ((await count(billingDb, 'SELECT count(*) FROM payments')) >= KILL_AFTER_CHARGES ? true : undefined),
      20_000,
      'billing to charge the first orders',
    );
    await billing.crash();
    const chargedAtKill = await count(billingDb, 'SELECT count(*) FROM payments');
    log(
      `billing SIGKILLed mid-run: ${chargedAtKill} of the first ${WAVES[0]} orders charged, the rest in flight or queued`,
    );
    const placed = await firstWave;

    // 5. The second wave while billing is down: its events wait in billing's durable queue.
    placed.push(...(await placeOrders(ordersUrl, plan.slice(WAVES[0]))));
    log(`${placed.length} orders placed (${WAVES[0]} before the crash, ${WAVES[1]} while billing was down)`);
    billing = start('billing#2', BILLING_MAIN, urls.billing);
    await billing.waitUntilReady(STARTUP_TIMEOUT_MS);
    const restartedAt = Date.now();
    log('billing restarted');

    // 6. Everything settles: no pending order, nothing left unpublished in either outbox.
    phase = 'waiting for the saga to settle';
    await waitFor(
      async () => {
        const left = await Promise.all([
          count(ordersDb, "SELECT count(*) FROM orders WHERE status = 'pending'"),
          count(ordersDb, 'SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL'),
          count(billingDb, 'SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL'),
        ]);
        return sum(left) === 0 ? true : undefined;
      },
      SETTLE_TIMEOUT_MS,
      'every order to be confirmed or cancelled',
    );
    log(`every order confirmed or cancelled, ${seconds(Date.now() - restartedAt)} after the restart`);

    // 7. A burst of duplicates: every message both services published, again, with its id.
    phase = 'replaying duplicates';
    const live = { [BILLING_GROUP]: billing, [ORDERS_GROUP]: orders };
    await sleep(400); // a fresh stats line from each service
    const skippedBefore = duplicatesSkipped(live);
    const effectsBefore = await readEffects(db);
    const replayed = {
      [BILLING_GROUP]: await broker.replay(await publishedMessages(ordersDb)),
      [ORDERS_GROUP]: await broker.replay(await publishedMessages(billingDb)),
    };
    log(`replayed ${sum(Object.values(replayed))} already-delivered messages with their original ids`);
    const skippedInReplay = () => {
      const now = duplicatesSkipped(live);
      return Object.fromEntries(
        Object.keys(now).map((group) => [group, (now[group] ?? 0) - (skippedBefore[group] ?? 0)]),
      );
    };
    await waitFor(
      async () =>
        Object.entries(replayed).every(([group, n]) => (skippedInReplay()[group] ?? 0) >= n) ? true : undefined,
      20_000,
      'the consumers to skip the replayed duplicates',
    );
    await sleep(400); // anything the replay wrongly applied would show now
    const effectsAfter = await readEffects(db);
    const skippedDuringReplay = skippedInReplay();

    // 8. Stop both services: SIGTERM stops the consumers, then the relays.
    phase = 'stopping the services';
    const exits = await Promise.all([orders.stop(15_000), billing.stop(15_000)]);
    const deadLetterQueueDepth = sum(await broker.messageCounts(topologies.map((t) => t.deadLetterQueue)));

    // 9. The numbers, from both databases and from every instance's last stats line.
    phase = 'reading the numbers';
    const consumerStats = (group: string) =>
      processes.filter((p) => groupOf(p) === group).map((p) => p.stats?.consumer);
    const numbers: DemoNumbers = {
      plan,
      placed: placed.length,
      chargedAtKill,
      firstWave: WAVES[0],
      replayed,
      skippedDuringReplay,
      skipped: {
        [BILLING_GROUP]: sum(consumerStats(BILLING_GROUP).map((s) => s?.duplicatesSkipped ?? 0)),
        [ORDERS_GROUP]: sum(consumerStats(ORDERS_GROUP).map((s) => s?.duplicatesSkipped ?? 0)),
      },
      retried: sum(processes.map((p) => p.stats?.consumer.retried ?? 0)),
      deadLetteredByConsumers: sum(processes.map((p) => p.stats?.consumer.deadLettered ?? 0)),
      deadLetterQueueDepth,
      effectsChanged: effectsDiff(effectsBefore, effectsAfter),
      cleanExits: exits.filter((e) => e.code === 0).length,
      ...(await readDatabases(db)),
    };
    return printSummary(numbers, { billingGroup: BILLING_GROUP, ordersGroup: ORDERS_GROUP, log });
  } catch (error) {
    // A connection lost mid-run (a broker restart, say) reads better with what the demo was doing.
    const failure =
      error instanceof DemoError ? error : new DemoError(`failed while ${phase}: ${describe(error)}`, { cause: error });
    for (const p of processes) {
      if (p.log.length > 0) failure.message += `\n  last output of ${p.name}:\n${p.tail().join('\n')}`;
    }
    throw failure;
  } finally {
    for (const p of processes) p.kill();
    if (broker) {
      if (!keep) {
        await broker.deleteQueues(queues).catch(() => {});
        await broker.deleteExchange(exchange).catch(() => {});
      }
      await broker.close();
    }
    if (db) await Promise.all([db.orders.end(), db.billing.end()]);
  }
}

function topologyOf(group: string, exchange: string, retryDelaysMs: number[]): GroupTopology {
  return groupTopology({ group, exchange, retryDelaysMs, bindings: [], queueType: 'classic' });
}

/** Deterministic orders: every fifth one above billing's card limit, every fourth written as v1. */
function planOrders(total: number, limitCents: number): PlannedOrder[] {
  const currencies = ['EUR', 'USD', 'GBP'] as const;
  return Array.from({ length: total }, (_, i) => {
    const declined = i % 5 === 3;
    const legacy = i % 4 === 1;
    return {
      customerId: `customer-${(i % 7) + 1}`,
      amountCents: declined ? limitCents + 100 * (i + 1) : Math.min(limitCents, 500 + ((i * 7919) % 40_000)),
      currency: legacy ? 'EUR' : (currencies[i % 3] ?? 'EUR'),
      eventVersion: legacy ? 1 : 2,
      expected: declined ? 'cancelled' : 'confirmed',
    };
  });
}

async function placeOrders(baseUrl: string, plan: PlannedOrder[]): Promise<{ orderId: string; messageId: string }[]> {
  const results: { orderId: string; messageId: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const index = next++;
      const { expected: _expected, ...body } = plan[index] as PlannedOrder;
      const response = await fetch(`${baseUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== 201) throw new DemoError(`orders answered ${response.status} to POST /orders: ${text}`);
      results[index] = JSON.parse(text);
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
  return results;
}

function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function recreateDatabases(serverUrl: string, names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    for (const name of names) {
      // Works on PostgreSQL 12 too (no DROP DATABASE ... WITH (FORCE)).
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      await client.query(`DROP DATABASE IF EXISTS "${name}"`);
      await client.query(`CREATE DATABASE "${name}"`);
    }
  } finally {
    await client.end();
  }
}

async function migrate(step: ServiceProcess): Promise<void> {
  const { code, signal } = await step.exited;
  if (code !== 0) {
    throw new DemoError(`${step.name} failed (${signal ?? `exit code ${code}`}):\n${step.tail().join('\n')}`);
  }
}

async function count(pool: pg.Pool, sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql.replace('count(*)', 'count(*)::int AS n'));
  return rows[0]?.n ?? 0;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(25);
  }
}

function groupOf(service: ServiceProcess): string {
  return service.name.startsWith('billing') ? BILLING_GROUP : ORDERS_GROUP;
}

function duplicatesSkipped(consumers: Record<string, ServiceProcess>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(consumers).map(([group, p]) => [group, p.stats?.consumer.duplicatesSkipped ?? 0]),
  );
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** An error's code (ECONNREFUSED) and first line. */
function describe(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = String(message ?? error).split('\n')[0] ?? '';
  return typeof code === 'string' && !text.includes(code) ? `${code} ${text}` : text;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

interface PublishedRow extends OutboxRowLike {
  exchange: string;
  routing_key: string;
}

/** Outbox rows a relay published (the relays run with `published: 'keep'`). */
async function publishedMessages(pool: pg.Pool): Promise<PublishedRow[]> {
  const { rows } = await pool.query<PublishedRow>(
    `SELECT id, type, version, ordering_key, exchange, routing_key, payload::text AS payload, headers,
            correlation_id, causation_id, traceparent, tracestate, occurred_at
       FROM txbox.outbox WHERE published_at IS NOT NULL ORDER BY seq`,
  );
  return rows;
}

type Effects = Record<'payments' | 'history' | 'orders', string[]>;

/** Every row a handler wrote or changed, as `id:state` strings: what a replay must not change. */
async function readEffects(db: Databases): Promise<Effects> {
  const [payments, history, orders] = await Promise.all([
    db.billing.query('SELECT order_id, status FROM payments ORDER BY id'),
    db.orders.query('SELECT order_id, event FROM order_history ORDER BY id'),
    db.orders.query('SELECT id, status FROM orders ORDER BY id'),
  ]);
  return {
    payments: payments.rows.map((r) => `${r.order_id}:${r.status}`),
    history: history.rows.map((r) => `${r.order_id}:${r.event}`),
    orders: orders.rows.map((r) => `${r.id}:${r.status}`),
  };
}

function effectsDiff(before: Effects, after: Effects): number {
  let changed = 0;
  for (const key of Object.keys(before) as (keyof Effects)[]) {
    const kept = new Set(after[key]);
    changed += Math.abs(before[key].length - after[key].length);
    for (const entry of before[key]) if (!kept.has(entry)) changed += 1;
  }
  return changed;
}

async function readDatabases(
  db: Databases,
): Promise<Pick<DemoNumbers, 'orders' | 'payments' | 'history' | 'txbox' | 'mismatched'>> {
  const one = async <T extends pg.QueryResultRow>(pool: pg.Pool, sql: string) =>
    (await pool.query<T>(sql)).rows[0] as T;
  const [orders, payments, history, ordersTxbox, billingTxbox, mismatched] = await Promise.all([
    one<DemoNumbers['orders']>(
      db.orders,
      `SELECT count(*)::int AS placed,
              count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed,
              count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
              count(*) FILTER (WHERE status = 'pending')::int AS pending
         FROM orders`,
    ),
    one<DemoNumbers['payments']>(
      db.billing,
      `SELECT count(*)::int AS rows,
              count(DISTINCT order_id)::int AS orders,
              count(*) FILTER (WHERE status = 'charged')::int AS charged,
              count(*) FILTER (WHERE status = 'declined')::int AS declined,
              count(*) FILTER (WHERE order_event_version = 1)::int AS upcast
         FROM payments`,
    ),
    one<DemoNumbers['history']>(
      db.orders,
      'SELECT count(*)::int AS rows, count(DISTINCT order_id)::int AS orders FROM order_history',
    ),
    txboxNumbers(db.orders),
    txboxNumbers(db.billing),
    crossCheck(db),
  ]);
  return { orders, payments, history, txbox: { orders: ordersTxbox, billing: billingTxbox }, mismatched };
}

async function txboxNumbers(pool: pg.Pool): Promise<DemoNumbers['txbox']['orders']> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM txbox.outbox WHERE published_at IS NOT NULL)::int AS published,
            (SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL)::int AS unpublished,
            (SELECT count(*) FROM txbox.outbox WHERE type = 'orders.order-placed' AND version = 1)::int AS v1,
            (SELECT count(*) FROM txbox.outbox_dead_letter)::int AS "deadLetters",
            (SELECT count(*) FROM txbox.inbox)::int AS handled`,
  );
  return rows[0];
}

/** Orders whose final state disagrees with billing's decision, compared across the two databases. */
async function crossCheck(db: Databases): Promise<number> {
  const [{ rows: orders }, { rows: payments }] = await Promise.all([
    db.orders.query<{ id: string; status: string }>('SELECT id, status FROM orders'),
    db.billing.query<{ order_id: string; status: string }>('SELECT order_id, status FROM payments'),
  ]);
  const decision = new Map(payments.map((p) => [p.order_id, p.status === 'charged' ? 'confirmed' : 'cancelled']));
  return orders.filter((o) => decision.get(o.id) !== o.status).length;
}

/** The demo's own AMQP connection: queue cleanup, replays with publisher confirms, queue depths. */
class Broker {
  /** Connects, riding out a broker that is restarting (a few seconds of refused connections). */
  static async open(url: string): Promise<Broker> {
    for (let attempt = 1; ; attempt++) {
      try {
        const connection = await amqp.connect(url);
        connection.on('error', () => {});
        return new Broker(connection, await connection.createConfirmChannel());
      } catch (error) {
        if (attempt >= 10) throw error;
        await sleep(1000);
      }
    }
  }

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {}

  async deleteQueues(names: string[]): Promise<void> {
    for (const name of names) await this.channel.deleteQueue(name);
  }

  async deleteExchange(name: string): Promise<void> {
    await this.channel.deleteExchange(name);
  }

  /** Publishes outbox rows again, encoded exactly as the relay encodes them, and awaits the confirms. */
  async replay(rows: PublishedRow[]): Promise<number> {
    for (const row of rows) {
      const { content, properties } = encodeOutboxRow(row);
      this.channel.publish(row.exchange, row.routing_key, content, properties);
    }
    await this.channel.waitForConfirms();
    return rows.length;
  }

  async messageCounts(queues: string[]): Promise<number[]> {
    const counts: number[] = [];
    for (const queue of queues) counts.push((await this.channel.checkQueue(queue)).messageCount);
    return counts;
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }
}
