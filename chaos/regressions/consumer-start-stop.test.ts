// Regression test for chaos finding BUG-3 — destination: packages/inbox/test/crash/start-stop-unreachable.test.ts
// consumer.start() with credentials the broker refuses must fail with a typed CONNECTION_FAILED instead of
// retrying forever, and stop() called while start() still waits for an unreachable broker must end that
// wait instead of deadlocking on it.
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useTestSchema } from '../../../../test-support/index.js';

const db = useTestSchema('inbox_start_stop');
const Probe = defineMessage({ type: 'regress.probe', version: 1, schema: z.object({}) });

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
});

const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms))]);

function consumerFor(amqp: string) {
  return createConsumer({
    group: uniqueName('inbox_ss_g'),
    database: db.databaseUrl,
    amqp,
    schema: db.schema,
    exchange: uniqueName('inbox_ss_x'),
    handlers: [defineHandler(Probe, () => {})],
  });
}

it('start() with a wrong password rejects with CONNECTION_FAILED (no password in the message)', async () => {
  const url = new URL(testAmqpUrl());
  url.password = 'not-the-password-42';
  const consumer = consumerFor(url.toString());
  const outcome = await within(
    consumer.start().then(
      () => ({ code: 'started', message: '' }),
      (e: { code: string; message: string }) => e,
    ),
    10_000,
  );
  expect(outcome === 'timeout' ? 'timeout' : outcome.code).toBe('CONNECTION_FAILED');
  if (outcome !== 'timeout') expect(outcome.message).not.toContain('not-the-password-42');
  expect(await within(consumer.stop(), 5000)).not.toBe('timeout');
});

it('stop() during a start() waiting for a broker that is down returns, and start() then rejects', async () => {
  const consumer = consumerFor('amqp://guest:guest@127.0.0.1:1');
  const start = consumer.start();
  start.catch(() => {});
  await new Promise((r) => setTimeout(r, 1000));
  expect(await within(consumer.stop(), 5000)).not.toBe('timeout');
  const settled = await within(
    start.then(
      () => 'started',
      (e: { code: string }) => e.code,
    ),
    2000,
  );
  expect(settled).toBe('STOPPED');
});
