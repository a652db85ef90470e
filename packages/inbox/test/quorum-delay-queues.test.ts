// A quorum group's delay queues are quorum queues (a classic one lives on one node: while that
// node is down the group's topology cannot be declared and the consumer cannot start elsewhere;
// test/cluster/node-loss.test.ts shows that on a real cluster). They have new names (`.q`), so a
// quorum group created while its delay queues were classic still starts, and what waits in an old
// delay queue still comes back to the group through the old queue's TTL.
import { defineHandler, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { PaymentRequested, publishEnvelope, useConsumers } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('inbox_qdelay');
const amqp = useAmqp();
const exchange = uniqueName('qdelay_events');
const handled: string[] = [];
const consumer = useConsumers(amqp, () => ({
  group: 'qdelay',
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  queueType: 'quorum',
  handlers: [
    defineHandler(PaymentRequested, async (payload) => {
      handled.push(payload.orderId);
      if (payload.orderId.startsWith('fail-once') && handled.filter((id) => id === payload.orderId).length === 1) {
        throw new Error('first attempt fails');
      }
    }),
  ],
}));

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
});

/** True when `queue` exists with exactly these arguments (RabbitMQ refuses a re-declare that differs). */
async function declaredWith(queue: string, args: Record<string, unknown>): Promise<boolean> {
  const probe = await amqp.connection.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(queue);
    await probe.assertQueue(queue, { durable: true, arguments: args });
    return true;
  } catch {
    return false;
  } finally {
    await probe.close().catch(() => {});
  }
}

describe('delay queues of a quorum group', () => {
  it('are quorum queues that dead-letter at least once, and a retry comes back through them', async () => {
    const c = consumer({ retry: { maxAttempts: 2, delaysMs: [200] } });
    await c.start();
    const [delay] = c.topology.delayQueues;
    expect(delay?.name).toBe(`${c.topology.queue}.retry.200ms.q`);
    expect(
      await declaredWith(delay?.name as string, {
        'x-queue-type': 'quorum',
        'x-message-ttl': 200,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': c.topology.queue,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      }),
    ).toBe(true);
    publishEnvelope(amqp.channel, exchange, {
      type: PaymentRequested.type,
      payload: { orderId: 'fail-once-1', amountCents: 1 },
    });
    await waitUntil('the retried message to be processed', async () => (await c.stats()).processed === 1);
    expect(handled.filter((id) => id === 'fail-once-1')).toHaveLength(2);
  });

  it('a group whose delay queues were declared classic starts, and a message in an old delay queue comes back', async () => {
    const c = consumer({ retry: { maxAttempts: 2, delaysMs: [3000] } });
    const { queue, deadLetterQueue } = c.topology;
    // The group as the earlier declaration left it: quorum queue, classic `<group>.retry.<delay>ms`.
    const old = `${queue}.retry.3000ms`;
    await amqp.channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': deadLetterQueue,
      },
    });
    await amqp.channel.assertQueue(old, {
      durable: true,
      arguments: { 'x-message-ttl': 3000, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
    });
    try {
      // A retry the old code scheduled: it waits in the old delay queue.
      publishEnvelope(
        amqp.channel,
        '',
        { type: PaymentRequested.type, payload: { orderId: 'waiting-in-old', amountCents: 1 } },
        old,
      );
      await waitUntil('the retry to wait in the old delay queue', async () => {
        return (await amqp.channel.checkQueue(old)).messageCount === 1;
      });
      await c.start();
      // Started on the new delay queue while the old one still holds the message.
      expect(c.topology.delayQueues.map((d) => d.name)).toEqual([`${old}.q`]);
      expect((await amqp.channel.checkQueue(old)).messageCount).toBe(1);
      await waitUntil('the message from the old delay queue to be processed', async () => {
        return (await c.stats()).processed === 1;
      });
      expect(handled.filter((id) => id === 'waiting-in-old')).toEqual(['waiting-in-old']);
      expect((await amqp.channel.checkQueue(old)).messageCount).toBe(0);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".inbox WHERE consumer_group = $1`, [
        c.group,
      ]);
      expect(rows[0].n).toBe(1);
    } finally {
      await amqp.channel.deleteQueue(old).catch(() => {});
    }
  });
});
