// An instance that cannot do its share of a partitioned group withdraws: cut off from PostgreSQL
// or from RabbitMQ for longer than leaseMs, it hands its partitions over (the other instance
// takes them and consumes), and it rejoins once it reaches both again — keys stay in order and
// nothing is applied twice. The cut-off instance reaches the service through a TCP proxy.
import { randomUUID } from 'node:crypto';
import { migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import { publishEnvelope } from '../fixtures.js';
import { appliedTable, createAppliedTable, KeyedStep, partitionedConsumer } from './partition-support.mjs';

const PARTITIONS = 4;
const db = useTestSchema('inbox_withdraw');
const broker = useAmqp();
const cleanup = useCleanup();

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
  await createAppliedTable(db.pool, db.schema);
});

async function proxied(url: string) {
  const u = new URL(url);
  const proxy = await startTcpProxy(u.hostname, Number(u.port));
  cleanup.defer(() => proxy.close());
  return proxy;
}

function instance(o: { group: string; exchange: string; name: string; database: string; amqp: string }) {
  const consumer = partitionedConsumer({ ...o, instance: o.name, schema: db.schema, partitions: PARTITIONS });
  cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
  cleanup.defer(() => consumer.stop());
  return consumer;
}

const owned = async (c: { stats(): Promise<{ partitions: { owned: number[] } | null }> }) =>
  (await c.stats()).partitions?.owned ?? [];

/** Publishes `perKey` steps of each key, from `from`, and waits until all are applied. */
async function publishAndApply(exchange: string, keys: string[], from: number, perKey: number) {
  for (let seq = from; seq < from + perKey; seq++) {
    for (const key of keys)
      publishEnvelope(broker.channel, exchange, { type: KeyedStep.type, key, payload: { key, seq } });
  }
  const total = keys.length * (from + perKey - 1);
  await waitUntil(`${total} steps applied`, async () => {
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM ${appliedTable(db.schema)} WHERE key = ANY($1)`,
      [keys],
    );
    return rows[0].n >= total;
  });
}

async function expectOrderedOnce(keys: string[], perKey: number) {
  const { rows } = await db.pool.query<{ key: string; seq: number; prev_seq: number; instance: string }>(
    `SELECT key, seq, prev_seq, instance FROM ${appliedTable(db.schema)} WHERE key = ANY($1)`,
    [keys],
  );
  expect(rows).toHaveLength(keys.length * perKey);
  expect(rows.filter((r) => r.prev_seq !== r.seq - 1)).toEqual([]);
  return rows;
}

describe.each(['PostgreSQL', 'RabbitMQ'] as const)('an instance cut off from %s', (service) => {
  it('withdraws: the other instance takes and consumes its partitions; it rejoins once the service is back', async () => {
    const group = uniqueName('withdraw');
    const exchange = uniqueName('withdraw.events');
    const proxy = await proxied(service === 'PostgreSQL' ? db.databaseUrl : testAmqpUrl());
    const cutOff = instance({
      group,
      exchange,
      name: 'cut-off',
      database: service === 'PostgreSQL' ? proxy.url(db.databaseUrl) : db.databaseUrl,
      amqp: service === 'RabbitMQ' ? proxy.url(testAmqpUrl()) : testAmqpUrl(),
    });
    const other = instance({ group, exchange, name: 'other', database: db.databaseUrl, amqp: testAmqpUrl() });
    await cutOff.start();
    await other.start();
    await waitUntil(
      'each owns half',
      async () => (await owned(cutOff)).length === 2 && (await owned(other)).length === 2,
    );
    const keys = Array.from({ length: 12 }, (_, i) => `w${i}-${randomUUID().slice(0, 8)}`);
    await publishAndApply(exchange, keys, 1, 5);

    proxy.down();
    await waitUntil('the cut-off instance to withdraw', async () => (await owned(cutOff)).length === 0, {
      timeoutMs: 30_000,
    });
    await waitUntil('the other to own every partition', async () => (await owned(other)).length === PARTITIONS, {
      timeoutMs: 30_000,
    });
    // Only the other instance can apply these: the cut-off one reaches one service only.
    await publishAndApply(exchange, keys, 6, 5);

    proxy.restore();
    await waitUntil('the cut-off instance to rejoin', async () => (await owned(cutOff)).length === 2, {
      timeoutMs: 30_000,
    });
    await publishAndApply(exchange, keys, 11, 5);
    const rows = await expectOrderedOnce(keys, 15);
    const during = rows.filter((r) => r.seq >= 6 && r.seq <= 10);
    expect(new Set(during.map((r) => r.instance))).toEqual(new Set(['other']));
    expect(new Set(rows.filter((r) => r.seq > 10).map((r) => r.instance))).toEqual(new Set(['cut-off', 'other']));
  });
});
