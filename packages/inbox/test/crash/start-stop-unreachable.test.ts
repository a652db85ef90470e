// Found by the chaos suite: refused credentials must fail start() with a typed CONNECTION_FAILED
// instead of retrying forever; a broker that is down must neither hold up start() nor stop().
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumerOptions, migrateInbox } from '@txbox/inbox';
import { beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { sleep, testAmqpUrl, uniqueName, useTestSchema, withDeadline } from '../../../../test-support/index.js';

const db = useTestSchema('inbox_start_stop');
const Probe = defineMessage({ type: 'regress.probe', version: 1, schema: z.object({}) });

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
});

function consumerFor(amqp: string, extra: Partial<InboxConsumerOptions> = {}) {
  return createConsumer({
    ...extra,
    group: uniqueName('inbox_ss_g'),
    database: db.databaseUrl,
    amqp,
    schema: db.schema,
    exchange: uniqueName('inbox_ss_x'),
    handlers: [defineHandler(Probe, () => {})],
  });
}

it.each([
  ['', {}],
  [' (partitioned group)', { partitions: { count: 2, rebalanceIntervalMs: 100, leaseMs: 2000 } }],
] as const)(
  'start() with a wrong password rejects with CONNECTION_FAILED (no password in the message)%s',
  async (_, extra) => {
    const url = new URL(testAmqpUrl());
    url.password = 'not-the-password-42';
    const consumer = consumerFor(url.toString(), extra);
    const outcome = await withDeadline(
      consumer.start().then(
        () => ({ code: 'started', message: '' }),
        (e: { code: string; message: string }) => e,
      ),
      10_000,
      'start() with a refused password',
    );
    expect(outcome.code).toBe('CONNECTION_FAILED');
    expect(outcome.message).not.toContain('not-the-password-42');
    await expect(withDeadline(consumer.stop(), 5000, 'stop()')).resolves.toBeUndefined();
  },
);

it('start() does not wait for a broker that is down (the application boots), and stop() returns promptly', async () => {
  const consumer = consumerFor('amqp://guest:guest@127.0.0.1:1');
  expect(
    await withDeadline(
      consumer.start().then(() => 'started'),
      5000,
      'start() against a broker that is down',
    ),
  ).toBe('started');
  expect((await consumer.stats()).connected).toBe(false);
  await sleep(1000); // a few background reconnect attempts
  await expect(withDeadline(consumer.stop(), 5000, 'stop()')).resolves.toBeUndefined();
});
