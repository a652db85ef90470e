// A retry copy the broker nacks (here: its delay queue is full and rejects publishes, by a policy
// on this test's queue only) must not leave the delivery unacknowledged on a channel that stays
// open, where it would never be redelivered: the consumer closes the channel, the broker requeues
// the delivery, and it is handled on the next channel.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defineHandler, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { PaymentRequested, publishEnvelope, useConsumers } from './fixtures.js';

const { schema, databaseUrl } = useTestSchema('inbox_nacked_copy');
const amqp = useAmqp();
const exchange = uniqueName('nacked_copy_events');
const attempts: string[] = [];
const consumer = useConsumers(amqp, () => ({
  group: 'nacked_copy',
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  retry: { maxAttempts: 2, delaysMs: [100] },
  handlers: [
    defineHandler(PaymentRequested, async (payload) => {
      attempts.push(payload.orderId);
      if (attempts.length === 1) throw new Error('first attempt fails');
    }),
  ],
}));
const run = promisify(execFile);

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
});

describe('a retry copy the broker nacks', () => {
  it('closes the channel, so the delivery is redelivered and handled instead of left unacknowledged', async () => {
    const c = consumer();
    const delayQueue = c.topology.delayQueues[0]?.name as string;
    const policy = uniqueName('txbox_test_reject');
    // Only this test's delay queue: full at zero messages, rejecting (nacking) every publish.
    await run('rabbitmqctl', [
      '-q',
      'set_policy',
      policy,
      `^${delayQueue.replace(/\./g, '\\.')}$`,
      '{"max-length":0,"overflow":"reject-publish"}',
      '--apply-to',
      'queues',
    ]);
    try {
      await c.start();
      publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'o1', amountCents: 1 },
      });
      await waitUntil('the redelivered message to be processed', async () => (await c.stats()).processed === 1, {
        timeoutMs: 30_000,
      });
      expect(attempts).toEqual(['o1', 'o1']);
      expect((await amqp.channel.checkQueue(c.topology.queue)).messageCount).toBe(0);
    } finally {
      await run('rabbitmqctl', ['-q', 'clear_policy', policy]);
    }
  });
});
