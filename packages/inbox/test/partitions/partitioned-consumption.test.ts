// Partitioned consumption against the real broker and database: several instances of one group
// share the partition queues, keep every key's order while partitions move between them (an
// instance joins, stops, is SIGKILLed, loses its lock session), and apply each message once.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer } from '@txbox/inbox';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { deleteTopology, runChild, sleep, testAmqpUrl, uniqueName, waitUntil } from '../../../../test-support/index.js';
import { assertPluginExchange } from '../../src/topology/topology.js';
import { publishEnvelope } from '../fixtures.js';
import { appliedTable, KeyedStep, partitionedConsumer } from './partition-support.mjs';
import { usePartitionTests } from './partition-test-kit.js';

const CHILD = fileURLToPath(new URL('./partitioned-consumer-child.mjs', import.meta.url));
const PARTITIONS = 8;

const { db, broker, cleanup, publishSteps, applied, waitApplied, expectOrderedOnce } =
  usePartitionTests('inbox_partitions');

interface Group {
  group: string;
  exchange: string;
  /** Starts an instance in this process (stopped after the test). */
  instance(name: string): Promise<InboxConsumer>;
}

function newGroup(): Group {
  const group = uniqueName('parts');
  const exchange = uniqueName('parts.events');
  return {
    group,
    exchange,
    async instance(name) {
      const consumer = partitionedConsumer({
        group,
        exchange,
        instance: name,
        database: db.databaseUrl,
        amqp: testAmqpUrl(),
        schema: db.schema,
        partitions: PARTITIONS,
      });
      cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
      cleanup.defer(() => consumer.stop());
      await consumer.start();
      return consumer;
    },
  };
}

/** The options every consumer these tests create by hand shares. */
function consumerBasics(group: string, exchange: string) {
  return {
    group,
    exchange,
    database: db.databaseUrl,
    amqp: testAmqpUrl(),
    schema: db.schema,
    retention: { intervalMs: 0 },
  };
}

function ownedBy(consumers: InboxConsumer[]) {
  return Promise.all(consumers.map(async (c) => (await c.stats()).partitions?.owned ?? []));
}

/** Resolves once the instances own disjoint shares covering every partition, each within one of P / n. */
function balanced(consumers: InboxConsumer[]) {
  return waitUntil('partitions shared out evenly', async () => {
    const owned = await ownedBy(consumers);
    const all = owned.flat();
    const even = owned.every((o) => Math.abs(o.length - PARTITIONS / consumers.length) < 1);
    return all.length === PARTITIONS && new Set(all).size === PARTITIONS && even ? owned : false;
  });
}

const keysFor = (n: number) => Array.from({ length: n }, (_, i) => `k${i}-${randomUUID().slice(0, 8)}`);

describe('partitioned consumption', () => {
  it('three instances share the partitions evenly, without overlap', async () => {
    const g = newGroup();
    const consumers = [await g.instance('a'), await g.instance('b'), await g.instance('c')];
    const owned = await balanced(consumers);
    expect(owned.map((o) => o.length).sort()).toEqual([2, 3, 3]);
  });

  it('keyed messages spread over the partitions, every message of one key in the same partition queue', async () => {
    const g = newGroup();
    const consumer = await g.instance('only');
    await consumer.stop(); // the queues stay; nothing consumes while the test looks at them
    const queues = consumer.topology.partitions?.queues ?? [];
    await publishSteps(g.exchange, keysFor(100), 1);
    // Without a key, the relay's partition header is the message id: keyless messages spread too.
    for (let i = 0; i < 100; i++)
      publishEnvelope(broker.channel, g.exchange, { type: KeyedStep.type, payload: { key: 'x', seq: 1 } });
    const sameKey = 'one-key';
    await publishSteps(g.exchange, [sameKey], 20);
    const depths = await waitUntil('all 220 routed', async () => {
      const d = await Promise.all(queues.map(async (q) => (await broker.channel.checkQueue(q)).messageCount));
      return d.reduce((a, b) => a + b, 0) === 220 ? d : false;
    });
    expect(depths.every((d) => d > 0)).toBe(true);
    // Exactly one queue holds the 20 of one key (on top of its share of the others).
    const sameKeyQueues = [];
    for (const q of queues) {
      let mine = 0;
      for (;;) {
        const m = await broker.channel.get(q, { noAck: true });
        if (!m) break;
        if (m.properties.headers?.['x-txbox-key'] === sameKey) mine += 1;
      }
      if (mine > 0) sameKeyQueues.push(mine);
    }
    expect(sameKeyQueues).toEqual([20]);
  });

  it('keeps every key in order and applies each message once while instances join and leave', async () => {
    const g = newGroup();
    const keys = keysFor(24);
    const perKey = 40;
    // In phases of 10 steps per key, each published while an instance joins or leaves, and each
    // started only after the change before it settled, so every instance has messages to apply
    // whatever the machine's speed (a single stream could be over before the last one joined).
    const phase = (n: number) => publishSteps(g.exchange, keys, 10, { from: 10 * n + 1, pauseMs: 15 });
    const first = await g.instance('first');
    const phase1 = phase(0);
    await waitApplied(keys, 100);
    const second = await g.instance('second'); // joins while messages keep coming
    await phase1;
    const phase2 = phase(1);
    const third = await g.instance('third'); // joins while messages keep coming
    await balanced([first, second, third]);
    await phase2;
    const phase3 = phase(2);
    await waitApplied(keys, keys.length * 20 + 100);
    await first.stop(); // its partitions move to the other two while messages keep coming
    await balanced([second, third]);
    await phase3;
    await phase(3);
    await waitApplied(keys, keys.length * perKey);
    const rows = await expectOrderedOnce(keys, perKey);
    const byInstance = new Set(rows.map((r) => r.instance));
    expect(byInstance).toEqual(new Set(['first', 'second', 'third']));
  });

  it('an instance SIGKILLed mid-stream: its partitions move to the survivor, nothing lost, nothing applied twice, order kept', async () => {
    const g = newGroup();
    const keys = keysFor(24);
    const perKey = 30;
    const child = runChild(CHILD, [], {
      TXBOX_DATABASE_URL: db.databaseUrl,
      TXBOX_AMQP_URL: testAmqpUrl(),
      TXBOX_SCHEMA: db.schema,
      TXBOX_EXCHANGE: g.exchange,
      TXBOX_GROUP: g.group,
      TXBOX_PARTITIONS: String(PARTITIONS),
      TXBOX_INSTANCE: 'child',
    });
    cleanup.defer(() => child.kill());
    await child.waitReady();
    const survivor = await g.instance('survivor');
    // Both own a share before the crash.
    await waitUntil(
      'survivor owns half',
      async () => ((await survivor.stats()).partitions?.owned.length ?? 0) === PARTITIONS / 2,
    );
    const publishing = publishSteps(g.exchange, keys, perKey, { pauseMs: 15 });
    await waitUntil(
      'the child applied some',
      async () =>
        (
          await db.pool.query(
            `SELECT count(*)::int AS n FROM ${appliedTable(db.schema)} WHERE instance = 'child' AND key = ANY($1)`,
            [keys],
          )
        ).rows[0].n >= 50,
      { timeoutMs: 60_000 },
    );
    await child.kill('SIGKILL');
    await waitUntil(
      'survivor owns every partition',
      async () => ((await survivor.stats()).partitions?.owned.length ?? 0) === PARTITIONS,
      {
        timeoutMs: 30_000,
      },
    );
    await publishing;
    await waitApplied(keys, keys.length * perKey);
    await expectOrderedOnce(keys, perKey);
  });

  it('an instance whose lock session is terminated takes its partitions back or hands them over, order kept', async () => {
    const g = newGroup();
    const keys = keysFor(16);
    const perKey = 30;
    const a = await g.instance('a');
    const b = await g.instance('b');
    await balanced([a, b]);
    const publishing = publishSteps(g.exchange, keys, perKey, { pauseMs: 15 });
    await waitApplied(keys, 100);
    // The lock sessions are the group's connections idle on the member query.
    const { rows } = await db.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_locks%'`,
      [`txbox-inbox ${g.group}`],
    );
    expect(rows.length).toBe(2);
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    await publishing;
    await waitApplied(keys, keys.length * perKey);
    await balanced([a, b]);
    await expectOrderedOnce(keys, perKey);
  });

  it('a broker without the plugin: the declare fails with a ConfigurationError naming the plugin', async () => {
    // The broker's real answer to an exchange type no enabled plugin provides (it closes the connection).
    const connection = await amqplib.connect(testAmqpUrl());
    connection.on('error', () => {});
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const error = await assertPluginExchange(channel, uniqueName('parts.bad'), 'x-txbox-no-such-type', {}).catch(
      (e: unknown) => e,
    );
    await connection.close().catch(() => {});
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/rabbitmq-plugins enable rabbitmq_consistent_hash_exchange/);
  });

  it('a failed delivery retries through a delay queue back into its own partition and applies once', async () => {
    const group = uniqueName('parts_retry');
    const exchange = uniqueName('parts.events');
    const attempts: number[] = [];
    const consumer = createConsumer({
      ...consumerBasics(group, exchange),
      retry: { delaysMs: [50] },
      partitions: { count: 4, rebalanceIntervalMs: 100, leaseMs: 2000 },
      handlers: [
        defineHandler(KeyedStep, async ({ key, seq }, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) throw new Error('first attempt fails');
          await ctx.client.query(
            `INSERT INTO ${appliedTable(db.schema)} (message_id, key, seq, prev_seq, instance) VALUES ($1, $2, $3, 0, 'retry')`,
            [ctx.envelope.id, key, seq],
          );
        }),
      ],
    });
    cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
    cleanup.defer(() => consumer.stop());
    await consumer.start();
    await waitUntil('owns every partition', async () => (await consumer.stats()).partitions?.owned.length === 4);
    const key = `retry-${randomUUID()}`;
    publishEnvelope(broker.channel, exchange, { type: KeyedStep.type, key, payload: { key, seq: 1 } });
    await waitApplied([key], 1);
    expect(attempts).toEqual([1, 2]);
    expect(await applied([key])).toHaveLength(1);
    expect((await consumer.stats()).retried).toBe(1);
  });
});

describe('partitioned consumption after another configuration', () => {
  it('refuses to start while the group still has its single queue (it would keep filling), saying what to do', async () => {
    const group = uniqueName('parts_switch');
    const exchange = uniqueName('parts.events');
    const options = {
      ...consumerBasics(group, exchange),
      handlers: [defineHandler(KeyedStep, async () => {})],
    };
    const single = createConsumer(options);
    cleanup.defer(() => deleteTopology(broker.channel, single.topology));
    await single.start();
    await single.stop();
    const partitioned = createConsumer({ ...options, partitions: { count: 2 } });
    cleanup.defer(() => deleteTopology(broker.channel, partitioned.topology));
    const error = await partitioned.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(new RegExp(`group queue ${group} \\(0 messages\\) still exists`));
    await partitioned.stop();
  });

  it('a lowered partition count: the partitions above it are unbound, and one still holding messages refuses start', async () => {
    const g = newGroup();
    const wide = await g.instance('wide');
    await wide.stop();
    const queues = wide.topology.partitions?.queues ?? [];
    // Fill every partition queue (nobody consumes now).
    for (let i = 0; i < 200; i++)
      publishEnvelope(broker.channel, g.exchange, {
        type: KeyedStep.type,
        key: `n${i}`,
        payload: { key: `n${i}`, seq: 1 },
      });
    await waitUntil('all routed', async () => {
      const d = await Promise.all(queues.map(async (q) => (await broker.channel.checkQueue(q)).messageCount));
      return d.reduce((a, b) => a + b, 0) === 200;
    });
    const narrow = createConsumer({
      ...consumerBasics(g.group, g.exchange),
      partitions: { count: PARTITIONS - 1 },
      handlers: [defineHandler(KeyedStep, async () => {})],
    });
    const error = await narrow.start().catch((e: unknown) => e);
    await narrow.stop();
    const last = queues[PARTITIONS - 1] as string;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      new RegExp(`partition queue ${last.replace(/\./g, '\\.')} holds \\d+ messages`),
    );
    // Unbound: new messages no longer reach it.
    const before = (await broker.channel.checkQueue(last)).messageCount;
    for (let i = 0; i < 100; i++)
      publishEnvelope(broker.channel, g.exchange, {
        type: KeyedStep.type,
        key: `m${i}`,
        payload: { key: `m${i}`, seq: 1 },
      });
    await sleep(300);
    expect((await broker.channel.checkQueue(last)).messageCount).toBe(before);
  });
});
