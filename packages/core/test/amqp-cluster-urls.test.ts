// AmqpConnection with the URLs of several broker nodes: each attempt tries them in turn, from the
// one that last worked, so clients of a node that is lost reconnect to one that survives. Two
// proxies in front of the one local broker stand for two nodes: taking one down is a node loss.
import { AmqpConnection } from '@txbox/core';
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort, testAmqpUrl } from '../../../test-support/index.js';
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.mjs';

const broker = new URL(testAmqpUrl());
const proxies: TcpProxy[] = [];
const connections: AmqpConnection[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) await c.close();
  for (const p of proxies.splice(0)) await p.close();
});

async function node(): Promise<TcpProxy> {
  const proxy = await startTcpProxy(broker.hostname, Number(broker.port || 5672));
  proxies.push(proxy);
  return proxy;
}

describe('AmqpConnection over the nodes of a cluster', () => {
  it('skips a node that refuses connections and uses the next', async () => {
    const refused = testAmqpUrl().replace(/:\d+(?=\/|$)/, `:${await closedPort()}`);
    const b = await node();
    const connection = new AmqpConnection({ url: [refused, b.url(testAmqpUrl())], minReconnectDelayMs: 10 });
    connections.push(connection);
    const channel = await connection.createChannel({ retry: false });
    await channel.close();
    expect(connection.safeUrl).toContain(`:${b.port}`);
    expect(b.openConnections).toBe(1);
  });

  it('after the node it was connected to is lost, reconnects to a surviving node', async () => {
    const a = await node();
    const b = await node();
    const connection = new AmqpConnection({
      url: [a.url(testAmqpUrl()), b.url(testAmqpUrl())],
      minReconnectDelayMs: 10,
    });
    connections.push(connection);
    const disconnected = new Promise((resolve) => connection.once('disconnected', resolve));
    await (await connection.createChannel()).close();
    expect(a.openConnections).toBe(1);
    a.down(); // node a is gone: its connections drop and it refuses new ones
    await disconnected;
    const channel = await connection.createChannel();
    await channel.checkExchange('amq.topic');
    await channel.close();
    expect(connection.safeUrl).toContain(`:${b.port}`);
    expect(b.openConnections).toBe(1);
  });

  it('refuses an empty list', () => {
    expect(() => new AmqpConnection({ url: [] })).toThrow(/at least one/);
  });
});
