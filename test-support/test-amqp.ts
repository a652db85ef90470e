import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import { testAmqpUrl } from './service-urls.js';

export interface MessageCollector {
  /** The exclusive, server-named queue bound to the exchange. */
  readonly queue: string;
  /** Every message received so far, in arrival order (each is acked on receipt). */
  readonly messages: ConsumeMessage[];
  /** Resolves with the messages once at least `count` have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ConsumeMessage[]>;
  /**
   * Resolves once every message already routed to the queue has been received, so `messages` can
   * be counted exactly ("nothing else arrived") without sleeping: sends a marker to the back of the
   * queue and waits for it (one queue, one consumer: delivery is in queue order). The marker is
   * not added to `messages`. Call it after whatever publishes has confirmed or stopped.
   */
  flush(timeoutMs?: number): Promise<ConsumeMessage[]>;
}

export interface TestAmqp {
  readonly url: string;
  readonly connection: ChannelModel;
  /** A regular (non-confirm) channel for the test's own publishing and declarations. */
  readonly channel: Channel;
  /** Asserts the durable topic `exchange` and collects what is routed to it with `routingPattern`. */
  bindCollector(exchange: string, routingPattern?: string): Promise<MessageCollector>;
}

const POLL_INTERVAL_MS = 20;
/** AMQP `type` of the markers `flush()` sends; never a txbox message type (those contain a dot). */
const FLUSH_MARKER_TYPE = 'txbox-test-flush';

/**
 * Connects to the test broker for one test file (in `beforeAll`); the connection is closed, and the
 * exchanges asserted by `bindCollector` deleted, in `afterAll`. Call it at the top level of a test
 * file or of a `describe`: `const broker = useAmqp();`. `connection` and `channel` can be used once
 * the hooks have run; `bindCollector` waits for the connection itself.
 */
export function useAmqp(): TestAmqp {
  const url = testAmqpUrl();
  let opened: { connection: ChannelModel; channel: Channel } | undefined;
  let opening: Promise<{ connection: ChannelModel; channel: Channel }> | undefined;
  const collectorExchanges = new Set<string>();

  function open() {
    opening ??= (async () => {
      const connection = await amqp.connect(url);
      // A channel or connection closed by the broker emits 'error'; without a listener that would
      // crash the worker instead of failing the operation that caused it.
      connection.on('error', () => {});
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      opened = { connection, channel };
      return opened;
    })();
    return opening;
  }

  function connected() {
    if (!opened) throw new Error('useAmqp(): the connection is opened in beforeAll; use it inside hooks and tests');
    return opened;
  }

  beforeAll(async () => {
    await open();
  });

  afterAll(async () => {
    if (!opening) return;
    const { connection } = await opening;
    try {
      if (collectorExchanges.size > 0) {
        const cleanup = await connection.createChannel();
        cleanup.on('error', () => {});
        for (const exchange of collectorExchanges) await cleanup.deleteExchange(exchange);
        await cleanup.close();
      }
    } finally {
      await connection.close().catch(() => {});
    }
  });

  async function bindCollector(exchange: string, routingPattern = '#'): Promise<MessageCollector> {
    const { connection } = await open();
    // Its own channel, so a channel error caused by the test's publishing cannot stop the collector.
    const consumer = await connection.createChannel();
    consumer.on('error', () => {});
    await consumer.assertExchange(exchange, 'topic', { durable: true });
    collectorExchanges.add(exchange);
    const { queue } = await consumer.assertQueue('', { exclusive: true, autoDelete: true });
    await consumer.bindQueue(queue, exchange, routingPattern);
    const messages: ConsumeMessage[] = [];
    const markersSeen = new Set<string>();
    let markers = 0;
    await consumer.consume(
      queue,
      (message) => {
        if (!message) return;
        consumer.ack(message);
        if (message.properties.type === FLUSH_MARKER_TYPE) markersSeen.add(String(message.properties.messageId));
        else messages.push(message);
      },
      { noAck: false },
    );

    async function flush(timeoutMs = 20_000): Promise<ConsumeMessage[]> {
      markers += 1;
      const marker = `${queue}-flush-${markers}`;
      // Straight to the queue (default exchange), behind everything routed to it so far.
      consumer.sendToQueue(queue, Buffer.from(''), { messageId: marker, type: FLUSH_MARKER_TYPE });
      const deadline = Date.now() + timeoutMs;
      while (!markersSeen.has(marker)) {
        if (Date.now() >= deadline) {
          throw new Error(`the flush marker on queue "${queue}" did not come back within ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      }
      return [...messages];
    }

    function waitFor(count: number, timeoutMs = 20_000): Promise<ConsumeMessage[]> {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const poll = () => {
          if (messages.length >= count) return resolve([...messages]);
          if (Date.now() >= deadline) {
            return reject(
              new Error(
                `expected ${count} message(s) on exchange "${exchange}" (pattern "${routingPattern}") within ${timeoutMs} ms, but ${messages.length} arrived`,
              ),
            );
          }
          setTimeout(poll, POLL_INTERVAL_MS);
        };
        poll();
      });
    }

    return { queue, messages, waitFor, flush };
  }

  return {
    url,
    get connection() {
      return connected().connection;
    },
    get channel() {
      return connected().channel;
    },
    bindCollector,
  };
}
