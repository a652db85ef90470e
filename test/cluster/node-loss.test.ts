// A RabbitMQ node SIGKILLed mid-run and restarted, on the local three-node cluster
// (scripts/rabbitmq-cluster/cluster.sh; scripts/ci-cluster.sh starts it and sets
// TXBOX_TEST_CLUSTER_URLS). Two table relays and a quorum group of two instances, all given the
// three URLs, all connected to c1 first (the first URL): killing c1 takes every connection and the
// quorum queues' leaders down at once, so relays and consumers must fail over to c2 / c3, and
// the group's topology must be declarable without c1. Some deliveries fail once, so retries go
// through the delay queues across the node loss too. Every committed message is applied exactly
// once, the outbox drains, nothing is dead-lettered and nothing is left in the group's queues.
import { AmqpConnection, defineMessage, type TxboxLogger } from '@txbox/core';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import type { Channel } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deleteTopology, sleep, testDatabaseUrl, uniqueName, waitUntil } from '../../test-support/index.js';
import { clusterNode, clusterUrls } from './cluster-node.js';

const Tick = defineMessage({ type: 'cluster.tick', version: 1, schema: z.object({ n: z.number().int() }) });
const MESSAGES = 1200;
const KEYS = 16;
const urls = clusterUrls();

/** What relays and consumers logged (warnings and errors), for the failure message of a stalled run. */
function recordingLogger(name: string, lines: string[]): TxboxLogger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${new Date().toISOString()} ${name} ${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  };
  return { debug() {}, info() {}, warn: write('warn'), error: write('error') };
}

describe.skipIf(!urls)(
  urls
    ? 'a RabbitMQ node lost mid-run'
    : 'a RabbitMQ node lost mid-run (skipped: TXBOX_TEST_CLUSTER_URLS is unset; run scripts/ci-cluster.sh)',
  () => {
    // The body is collected even when skipped: nothing here may need the cluster.
    const cluster = urls ?? [];
    const admin = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
    let broker: AmqpConnection;
    let channel: Channel;
    const schemas: string[] = [];
    const topologies: Parameters<typeof deleteTopology>[1][] = [];
    beforeAll(async () => {
      // The test's own view of the cluster, from the last node first (it outlives the loss of c1).
      broker = new AmqpConnection({ url: [...cluster].reverse(), connectionName: 'txbox-test-cluster' });
      channel = await broker.createChannel();
      channel.on('error', () => {});
    });
    afterAll(async () => {
      for (const t of topologies) await deleteTopology(channel, t);
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await admin.end();
      await broker.close();
    });

    it.each([1, 2, 3])('run %i: nothing lost, nothing applied twice, everyone fails over', async () => {
      const schema = uniqueName('cluster_loss');
      schemas.push(schema);
      const exchange = uniqueName('cluster_loss_x');
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await migrateOutbox({ database: testDatabaseUrl(), schema });
      await migrateInbox({ database: testDatabaseUrl(), schema });
      // No unique constraint: a message applied twice shows as two rows.
      await admin.query(`CREATE TABLE "${schema}".effects (n int NOT NULL)`);

      const outbox = createOutbox({ contracts: [Tick], schema, exchange });
      const logs: string[] = [];
      const relays = [1, 2].map((i) =>
        createRelay({
          database: testDatabaseUrl(),
          amqp: cluster,
          schema,
          logger: recordingLogger(`relay-${i}`, logs),
        }),
      );
      const failedOnce = new Set<number>();
      const consumerOptions = {
        group: uniqueName('cluster_loss'),
        database: testDatabaseUrl(),
        amqp: cluster,
        schema,
        exchange,
        queueType: 'quorum' as const,
        retry: { maxAttempts: 10, baseDelayMs: 200, maxDelayMs: 1000 },
        handlers: [
          defineHandler(Tick, async (payload, ctx) => {
            // Every 20th message fails its first attempt: it comes back through a delay queue.
            if (payload.n % 20 === 0 && !failedOnce.has(payload.n)) {
              failedOnce.add(payload.n);
              throw new Error('first attempt fails');
            }
            await ctx.client.query(`INSERT INTO "${schema}".effects (n) VALUES ($1)`, [payload.n]);
          }),
        ],
      };
      const consumers = [1, 2].map((i) =>
        createConsumer({ ...consumerOptions, logger: recordingLogger(`consumer-${i}`, logs) }),
      );
      const topology = (consumers[0] as (typeof consumers)[number]).topology;
      topologies.push(topology);
      const producer = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
      const effects = async () =>
        (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".effects`)).rows[0]?.n ?? 0;

      const produce = async () => {
        for (let n = 0; n < MESSAGES; n++) {
          const client = await producer.connect();
          try {
            await client.query('BEGIN');
            await outbox.add(client, Tick.create({ n }, { key: `k${n % KEYS}` }));
            await client.query('COMMIT');
          } finally {
            client.release();
          }
          await sleep(10);
        }
      };

      try {
        for (const c of consumers) await c.start();
        for (const r of relays) await r.start();
        const producing = produce();
        await waitUntil('messages to flow', async () => (await effects()) >= MESSAGES / 4, { timeoutMs: 60_000 });
        await clusterNode('kill-node', 1);
        const appliedAtKill = await effects();
        // While c1 is down, relays and consumers go on through c2 and c3: not just after it is back.
        await waitUntil(
          'messages applied while c1 is down',
          async () => (await effects()) >= Math.min(appliedAtKill + 100, MESSAGES),
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        await sleep(3000);
        await clusterNode('start-node', 1);
        await producing;

        let applied = 0;
        await waitUntil(
          () => `every message applied (${applied} of ${MESSAGES})`,
          async () => {
            applied = await effects();
            return applied >= MESSAGES;
          },
          { timeoutMs: 180_000, intervalMs: 250 },
        );
        await waitUntil('the outbox to drain', async () => {
          const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
          return rows[0]?.n === 0;
        });
      } catch (error) {
        // A stall: say where the messages are, and what the relays and consumers reported.
        const { rows: outboxRows } = await admin.query(
          `SELECT count(*)::int AS rows, max(attempts) AS attempts, max(last_error) AS error FROM "${schema}".outbox`,
        );
        const state = {
          outbox: outboxRows[0],
          relays: await Promise.all(relays.map((r) => r.stats())),
          consumers: await Promise.all(consumers.map((c) => c.stats())),
        };
        throw new Error(`${(error as Error).message}\n${JSON.stringify(state)}\n${logs.slice(-40).join('\n')}`);
      } finally {
        await clusterNode('start-node', 1);
        for (const r of relays) await r.stop();
        for (const c of consumers) await c.stop();
        await producer.end();
      }

      const { rows } = await admin.query<{ n: number; copies: number }>(
        `SELECT n, count(*)::int AS copies FROM "${schema}".effects GROUP BY n`,
      );
      const applied = new Map(rows.map((r) => [r.n, r.copies]));
      const missing = Array.from({ length: MESSAGES }, (_, n) => n).filter((n) => !applied.has(n));
      expect(missing, 'committed but never applied').toEqual([]);
      expect(
        rows.filter((r) => r.copies > 1),
        'applied twice',
      ).toEqual([]);
      const { rows: dead } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${schema}".outbox_dead_letter`,
      );
      expect(dead[0]?.n, 'relay dead letters').toBe(0);
      // Consumers stopped: whatever a queue still holds would be ready again and counted.
      const queues = [topology.queue, topology.deadLetterQueue, ...topology.delayQueues.map((d) => d.name)];
      const left: Record<string, number> = {};
      for (const queue of queues) left[queue] = (await channel.checkQueue(queue)).messageCount;
      expect(left, "messages left in the group's queues").toEqual(Object.fromEntries(queues.map((q) => [q, 0])));
    });
  },
);
