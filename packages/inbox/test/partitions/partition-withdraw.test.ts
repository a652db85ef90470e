// An instance that cannot do its share of a partitioned group withdraws: cut off from PostgreSQL
// or from RabbitMQ for longer than leaseMs, it hands its partitions over (the other instance
// takes them and consumes), and it rejoins once it reaches both again — keys stay in order and
// nothing is applied twice. The cut-off instance reaches the service through a TCP proxy.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deleteTopology, runChild, testAmqpUrl, uniqueName, waitUntil } from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import { partitionedConsumer } from './partition-support.mjs';
import { usePartitionTests } from './partition-test-kit.js';

const CHILD = fileURLToPath(new URL('./partitioned-consumer-child.mjs', import.meta.url));
const PARTITIONS = 4;
const { db, broker, cleanup, publishSteps, waitApplied, expectOrderedOnce } = usePartitionTests('inbox_withdraw');

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

/** Publishes steps `from`…`from + perKey - 1` of each key and waits until every step so far is applied. */
async function publishAndApply(exchange: string, keys: string[], from: number, perKey: number) {
  await publishSteps(exchange, keys, perKey, { from });
  await waitApplied(keys, keys.length * (from + perKey - 1));
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

describe('a frozen instance (SIGSTOP)', () => {
  it('loses its partitions after leaseMs (the server ends its silent lock session); after SIGCONT it hands over, keys in order, nothing twice', async () => {
    const group = uniqueName('frozen');
    const exchange = uniqueName('frozen.events');
    const child = runChild(CHILD, [], {
      TXBOX_DATABASE_URL: db.databaseUrl,
      TXBOX_AMQP_URL: testAmqpUrl(),
      TXBOX_SCHEMA: db.schema,
      TXBOX_EXCHANGE: exchange,
      TXBOX_GROUP: group,
      TXBOX_PARTITIONS: String(PARTITIONS),
      TXBOX_INSTANCE: 'frozen',
    });
    cleanup.defer(async () => {
      child.child.kill('SIGCONT');
      await child.kill();
    });
    await child.waitReady();
    const survivor = instance({ group, exchange, name: 'survivor', database: db.databaseUrl, amqp: testAmqpUrl() });
    await survivor.start();
    await waitUntil('each owns half', async () => (await owned(survivor)).length === 2);
    const keys = Array.from({ length: 12 }, (_, i) => `f${i}-${randomUUID().slice(0, 8)}`);
    await publishAndApply(exchange, keys, 1, 5);

    child.child.kill('SIGSTOP');
    // Nothing the frozen process does can release its locks: only idle_session_timeout on its session.
    await waitUntil(
      'the survivor to hold every partition lock',
      async () => (await owned(survivor)).length === PARTITIONS,
      {
        timeoutMs: 30_000,
      },
    );
    await publishSteps(exchange, keys, 5, { from: 6 });
    child.child.kill('SIGCONT');
    await waitApplied(keys, keys.length * 10);
    await expectOrderedOnce(keys, 10);
  });
});
