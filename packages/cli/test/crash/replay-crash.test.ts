// Replay never loses a message: a replay killed after the broker confirmed every copy but before
// it acked any dead-letter original leaves each message in both queues; the group applies each
// once, and replaying the leftovers again only produces duplicates the inbox skips.
import { fileURLToPath } from 'node:url';
import { defineMessage } from '@txbox/core';
import { createConsumer, createInboxAdmin, defineHandler, migrateInbox, NonRetryableError } from '@txbox/inbox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  runChild,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';

const Refund = defineMessage({ type: 'billing.refund-requested', version: 1, schema: z.object({ n: z.number() }) });
const WORKER = fileURLToPath(new URL('./replay-child.mjs', import.meta.url));
const { schema, databaseUrl } = useTestSchema('replay_crash');
const amqp = useAmqp();
const exchange = uniqueName('replay_crash');
let broken = true;
const applied: string[] = [];
const consumer = createConsumer({
  group: uniqueName('refunds'),
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
  handlers: [
    defineHandler(Refund, async (_payload, ctx) => {
      if (broken) throw new NonRetryableError('refund service down');
      applied.push(ctx.envelope.id);
    }),
  ],
});

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  await consumer.start();
});
afterAll(async () => {
  await consumer.stop();
  await deleteTopology(amqp.channel, consumer.topology);
});

const depth = async (queue: string) => (await amqp.channel.checkQueue(queue)).messageCount;

it('a replay killed between confirm and ack loses nothing and applies each message once', async () => {
  const { encodeAmqpMessage } = await import('@txbox/core');
  const ids = [1, 2, 3].map((n) => {
    const id = crypto.randomUUID();
    const { content, properties } = encodeAmqpMessage({
      id,
      type: Refund.type,
      version: 1,
      occurredAt: new Date(),
      key: null,
      correlationId: null,
      causationId: null,
      traceparent: null,
      tracestate: null,
      headers: {},
      payload: { n },
    });
    amqp.channel.publish(exchange, Refund.type, content, properties);
    return id;
  });
  await waitUntil('three dead letters', async () => (await consumer.stats()).deadLettered === 3);
  broken = false;

  const worker = runChild(WORKER, [], { TXBOX_AMQP_URL: testAmqpUrl(), TXBOX_GROUP: consumer.group });
  await worker.waitReady();
  await worker.waitForLine('ACKING');
  await worker.kill('SIGKILL');

  // Every copy was confirmed: the group applies all three; the originals return to the dead-letter queue.
  await waitUntil('the group to apply the three copies', () => applied.length === 3);
  await waitUntil(
    'the originals back in the dead-letter queue',
    async () => (await depth(consumer.topology.deadLetterQueue)) === 3,
  );

  // Replaying the leftovers only yields duplicates: nothing is applied twice.
  const admin = createInboxAdmin({ amqp: testAmqpUrl() });
  try {
    const again = await admin.deadLetters.replay(consumer.group, { all: true });
    expect(again.replayed.sort()).toEqual([...ids].sort());
  } finally {
    await admin.close();
  }
  await waitUntil(
    'the inbox to skip the three duplicates',
    async () => (await consumer.stats()).duplicatesSkipped === 3,
  );
  expect(applied.sort()).toEqual([...ids].sort());
  expect(await depth(consumer.topology.deadLetterQueue)).toBe(0);
  expect(await depth(consumer.topology.queue)).toBe(0);
});
