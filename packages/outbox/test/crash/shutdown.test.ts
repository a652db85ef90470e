import { AmqpConnection } from '@txbox/core';
import { createRelay, migrateOutbox } from '@txbox/outbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { sleep, testAmqpUrl, useTestSchema, withDeadline } from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';

const { schema, databaseUrl } = useTestSchema('outbox_shutdown');

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});

describe('shutdown is never held hostage by the broker', () => {
  it('a relay on a shared connection stops promptly while the broker is unreachable', async () => {
    const url = new URL(testAmqpUrl());
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5672));
    proxy.down();
    // A shared connection is not closed by the relay, so nothing but the relay's own loop can end its wait.
    const shared = new AmqpConnection({ url: proxy.url(testAmqpUrl()) });
    try {
      const relay = createRelay({ database: databaseUrl, amqp: shared, schema, stopTimeoutMs: 30_000 });
      await relay.start();
      await sleep(500); // let it fail to connect a few times
      const outcome = await withDeadline(
        relay.stop().then(() => 'stopped'),
        5_000,
        'stop() of a relay waiting for a broker that is down',
      );
      expect(outcome).toBe('stopped');
    } finally {
      await shared.close();
      await proxy.close();
    }
  });
});
