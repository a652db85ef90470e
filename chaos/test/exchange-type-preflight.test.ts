// The chaos run's preflight against the real broker: an exchange type the broker does not know
// (what x-consistent-hash is without its plugin) fails at once with what to enable, and a known
// one passes and leaves nothing behind.
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName } from '../../test-support/index.js';
import { requireExchangeType } from '../lib/broker.mjs';

describe('chaos preflight: the exchange types a run needs', () => {
  it('refuses an exchange type the broker does not know, naming the plugin to enable', async () => {
    const exchange = uniqueName('chaos_probe');
    await expect(
      requireExchangeType({
        url: testAmqpUrl(),
        type: 'x-txbox-no-such-type',
        plugin: 'rabbitmq_no_such_plugin',
        exchange,
        why: 'the test asks for it',
      }),
    ).rejects.toThrow(
      /does not know the exchange type x-txbox-no-such-type \(needed: the test asks for it\): .*rabbitmq-plugins enable rabbitmq_no_such_plugin.*unknown exchange type/,
    );
  });

  it('passes x-consistent-hash on this broker and deletes its probe exchange', async () => {
    const exchange = uniqueName('chaos_probe');
    const why = 'group A consumes partitioned';
    const url = testAmqpUrl();
    await requireExchangeType({
      url,
      type: 'x-consistent-hash',
      plugin: 'rabbitmq_consistent_hash_exchange',
      exchange,
      why,
    });
    const connection = await amqp.connect(url);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      await expect(channel.checkExchange(exchange)).rejects.toThrow(/NOT_FOUND/);
    } finally {
      await connection.close().catch(() => {});
    }
  });
});
