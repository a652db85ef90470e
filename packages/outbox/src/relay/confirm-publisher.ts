import { once } from 'node:events';
import { type AmqpConnection, type EncodedAmqpMessage, TxboxError, type TxboxLogger } from '@txbox/core';
import { describeError, settlesWithin } from '@txbox/core/internal';
import type { ConfirmChannel, Message } from 'amqplib';

export interface PublishItem extends EncodedAmqpMessage {
  exchange: string;
  routingKey: string;
}

export type PublishOutcome =
  | { status: 'confirmed' }
  | { status: 'unroutable' }
  | { status: 'failed'; error: TxboxError };

interface Pending {
  messageId: string;
  settle: (outcome: PublishOutcome) => void;
  settled: boolean;
}

/**
 * Publishes batches on one confirm channel with pipelined confirms: every message of a
 * batch is written before any confirm is awaited. A message counts as published only when
 * the broker acks it. Nacks, `mandatory` returns, channel closes and timeouts each map to an
 * outcome; nothing is ever reported confirmed without a broker ack.
 */
export class ConfirmPublisher {
  readonly #connection: AmqpConnection;
  readonly #logger: TxboxLogger;
  readonly #declareExchanges: boolean;
  readonly #timeoutMs: number;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<ConfirmChannel> | undefined;
  #declared = new Set<string>();
  #returned = new Set<string>();
  #pending = new Set<Pending>();

  constructor(options: {
    connection: AmqpConnection;
    logger: TxboxLogger;
    declareExchanges: boolean;
    publishTimeoutMs: number;
  }) {
    this.#connection = options.connection;
    this.#logger = options.logger;
    this.#declareExchanges = options.declareExchanges;
    this.#timeoutMs = options.publishTimeoutMs;
  }

  /**
   * Resolves once a channel is open. Makes one connection attempt and fails if the broker
   * is unreachable: the relay loop owns the backoff, so that stop() can interrupt it.
   */
  async ready(): Promise<void> {
    await this.#ensureChannel();
  }

  async publishBatch(items: readonly PublishItem[]): Promise<PublishOutcome[]> {
    let channel: ConfirmChannel;
    try {
      channel = await this.#ensureChannel();
      for (const exchange of new Set(items.map((i) => i.exchange))) await this.#declare(channel, exchange);
    } catch (cause) {
      const error = new TxboxError('PUBLISH_FAILED', `Cannot open a channel to publish: ${describeError(cause)}`, {
        cause,
        retryable: true,
      });
      return items.map(() => ({ status: 'failed', error }));
    }

    let nacked = false;
    const outcomes = items.map(
      (item) =>
        new Promise<PublishOutcome>((resolve) => {
          const pending: Pending = {
            messageId: item.properties.messageId,
            settled: false,
            settle: (outcome) => {
              if (pending.settled) return;
              pending.settled = true;
              this.#pending.delete(pending);
              resolve(outcome);
            },
          };
          this.#pending.add(pending);
          try {
            const writable = channel.publish(
              item.exchange,
              item.routingKey,
              item.content,
              { ...item.properties, mandatory: true },
              (err: unknown) => {
                if (err) {
                  nacked = true;
                  pending.settle({
                    status: 'failed',
                    error: new TxboxError('PUBLISH_FAILED', 'RabbitMQ nacked the message', { retryable: true }),
                  });
                } else if (this.#returned.delete(pending.messageId)) {
                  // basic.return arrives before the ack of a mandatory message nobody could route.
                  pending.settle({ status: 'unroutable' });
                } else {
                  pending.settle({ status: 'confirmed' });
                }
              },
            );
            if (!writable) this.#needsDrain = true;
          } catch (cause) {
            // amqplib throws synchronously for a message it cannot encode (a RangeError for a
            // headers table over 64 KiB): publishing it again cannot succeed. Anything else
            // (a closed channel) can.
            const permanent = cause instanceof RangeError || cause instanceof TypeError;
            pending.settle({
              status: 'failed',
              error: new TxboxError('PUBLISH_FAILED', `Publish failed: ${describeError(cause)}`, {
                cause,
                retryable: !permanent,
              }),
            });
          }
        }),
    );
    // publishTimeoutMs bounds the whole batch, the wait for the socket to drain included: a
    // connection that died without closing its channels must not hold the batch forever.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
    });
    // Write back-pressure: stop writing until the socket drains, then go on.
    if (this.#needsDrain) await Promise.race([this.#awaitDrain(channel), timeout]);

    const all = Promise.all(outcomes);
    const first = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (first === 'timeout') {
      // Late confirms on this channel can no longer be trusted to match: discard it.
      this.#failPending(
        new TxboxError('PUBLISH_TIMEOUT', `No broker confirm within ${this.#timeoutMs} ms`, { retryable: true }),
      );
      await this.#discardChannel(channel);
      return all;
    }
    // A nack can come from the channel rather than the queue: after a cluster node is lost, a
    // channel opened while a quorum queue was electing its leader can keep nacking every publish
    // to it (seen on RabbitMQ 3.10, while a new channel's publishes are confirmed). The retries go
    // out on a fresh channel.
    if (nacked) await this.#discardChannel(channel);
    return first;
  }

  #needsDrain = false;

  async #awaitDrain(channel: ConfirmChannel): Promise<void> {
    this.#needsDrain = false;
    const closed = once(channel, 'close').then(() => undefined);
    await Promise.race([once(channel, 'drain'), closed]);
  }

  async #ensureChannel(): Promise<ConfirmChannel> {
    if (this.#channel) return this.#channel;
    if (!this.#opening) {
      this.#opening = this.#open().finally(() => {
        this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  async #open(): Promise<ConfirmChannel> {
    const channel = await this.#connection.createConfirmChannel({ retry: false });
    this.#declared = new Set();
    this.#returned = new Set();
    channel.on('return', (msg: Message) => {
      const id = msg.properties.messageId;
      if (typeof id === 'string') this.#returned.add(id);
    });
    channel.on('error', (error: Error) => {
      this.#logger.warn('Relay channel error', { error: error.message });
    });
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
      this.#failPending(
        new TxboxError('PUBLISH_FAILED', 'The channel closed before the broker confirmed', { retryable: true }),
      );
    });
    this.#channel = channel;
    return channel;
  }

  async #declare(channel: ConfirmChannel, exchange: string): Promise<void> {
    if (!this.#declareExchanges || this.#declared.has(exchange)) return;
    const declaring = channel.assertExchange(exchange, 'topic', { durable: true });
    // Bounded like the confirms: a broker that stopped answering must not hold the batch.
    if (!(await settlesWithin(declaring, this.#timeoutMs))) {
      await this.#discardChannel(channel);
      throw new TxboxError(
        'PUBLISH_TIMEOUT',
        `No answer to declaring exchange ${exchange} within ${this.#timeoutMs} ms`,
      );
    }
    await declaring;
    this.#declared.add(exchange);
  }

  #failPending(error: TxboxError): void {
    for (const pending of [...this.#pending]) pending.settle({ status: 'failed', error });
  }

  async #discardChannel(channel: ConfirmChannel): Promise<void> {
    if (this.#channel === channel) this.#channel = undefined;
    // Bounded: a stalled broker never answers channel.close.
    await settlesWithin(channel.close(), 2000);
  }

  /** Fails anything in flight and closes the channel. */
  async close(): Promise<void> {
    const channel = this.#channel;
    this.#channel = undefined;
    this.#failPending(new TxboxError('STOPPED', 'The relay stopped before the broker confirmed', { retryable: true }));
    if (channel) await this.#discardChannel(channel);
  }
}
