// A handler sees the message's own user headers on every attempt — never txbox's or the broker's
// bookkeeping — so forwarding them to an outgoing message through its bound outbox works on a
// retried delivery as on the first.
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { createOutbox, migrateOutbox } from '@txbox/outbox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { publishEnvelope, queueDepth } from './fixtures.js';

const Shipped = defineMessage({ type: 'fwd.shipped', version: 1, schema: z.object({ orderId: z.string() }) });
const Notified = defineMessage({ type: 'fwd.notified', version: 1, schema: z.object({ orderId: z.string() }) });

const { schema, pool, databaseUrl } = useTestSchema('inbox_forward');
const amqp = useAmqp();
const exchange = uniqueName('forward_events');
let consumer: InboxConsumer;
const seen: { attempt: number; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  await migrateOutbox({ database: databaseUrl, schema });
  consumer = createConsumer({
    group: uniqueName('forward'),
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    outbox: createOutbox({ contracts: [Notified], schema, exchange }),
    retry: { delaysMs: [50, 50] },
    handlers: [
      defineHandler(Shipped, async (payload, ctx) => {
        seen.push({ attempt: ctx.attempt, headers: { ...ctx.envelope.headers } });
        await ctx.outbox.add(Notified.create({ orderId: payload.orderId }, { headers: ctx.envelope.headers }));
        if (ctx.attempt < 3) throw new Error(`notifier busy (attempt ${ctx.attempt})`);
      }),
    ],
  });
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
});

it('forwarding the incoming headers is safe on every attempt: the third attempt commits with exactly the user headers', async () => {
  const userHeaders = { tenant: 'acme', 'x-request-id': 'req-42' };
  publishEnvelope(amqp.channel, exchange, { type: Shipped.type, payload: { orderId: 'o-1' }, headers: userHeaders });
  await waitUntil('processed', async () => (await consumer.stats()).processed === 1);

  expect(seen).toEqual([
    { attempt: 1, headers: userHeaders },
    { attempt: 2, headers: userHeaders },
    { attempt: 3, headers: userHeaders },
  ]);
  const stats = await consumer.stats();
  expect(stats).toMatchObject({ processed: 1, retried: 2, deadLettered: 0 });
  expect(await queueDepth(amqp.channel, consumer.topology.deadLetterQueue)).toBe(0);
  // Only the committed attempt's message exists, and it carries the user headers, nothing else.
  const { rows } = await pool.query(`SELECT type, headers FROM "${schema}".outbox`);
  expect(rows).toEqual([{ type: Notified.type, headers: userHeaders }]);
});
