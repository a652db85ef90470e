// Found by the chaos suite: a handler's connection terminated mid-handler must not crash the
// process with an unhandled 'error' event of the pg client; the delivery is retried and applied once.
import { randomUUID } from 'node:crypto';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  deleteTopology,
  sleep,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import {
  CrashApplied,
  createEffectsTable,
  effectRows,
  effectsTable,
  INSERT_EFFECT,
  openPublisher,
  publishRaw,
} from './inbox-crash-support.js';

const db = useTestSchema('inbox_backend_terminated');
const broker = useAmqp();
let consumer: InboxConsumer | undefined;
const uncaught: unknown[] = [];
const trap = (error: unknown) => uncaught.push(error);

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
  await createEffectsTable(db.pool, db.schema);
  process.on('uncaughtException', trap);
});
afterAll(async () => {
  process.off('uncaughtException', trap);
  await consumer?.stop();
  if (consumer) await deleteTopology(broker.channel, consumer.topology);
});

it('survives its handler connection being terminated mid-handler and applies the message once', async () => {
  const exchange = uniqueName('inbox_bt_x');
  let calls = 0;
  consumer = createConsumer({
    group: uniqueName('inbox_bt_g'),
    database: db.databaseUrl,
    amqp: testAmqpUrl(),
    schema: db.schema,
    exchange,
    retry: { delaysMs: [200] },
    retention: { intervalMs: 0 },
    handlers: [
      defineHandler(CrashApplied, async (_payload, ctx) => {
        calls += 1;
        await ctx.client.query(INSERT_EFFECT(effectsTable(db.schema)), [ctx.envelope.id, 'consumer']);
        if (calls === 1) {
          const { rows } = await ctx.client.query('SELECT pg_backend_pid() AS pid');
          await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          // No statement running: the termination reaches the idle, checked-out client.
          await sleep(300);
        }
      }),
    ],
  });
  await consumer.start();
  const channel = await openPublisher(broker.connection);
  const id = randomUUID();
  publishRaw(channel, exchange, id, 1);
  await channel.waitForConfirms();
  await waitUntil('the retried delivery applied', async () => (await effectRows(db.pool, db.schema, id)) === 1, {
    timeoutMs: 20_000,
  });
  await sleep(500);
  expect(uncaught).toEqual([]);
  expect(calls).toBe(2);
  expect(await effectRows(db.pool, db.schema, id)).toBe(1);
  expect(consumer.isRunning).toBe(true);
  await channel.close();
});
