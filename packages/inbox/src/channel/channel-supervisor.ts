// Keeps one consuming channel open for the group: declares the topology, consumes, and comes back
// after a lost connection or a broker-side cancel, with backoff, until stop. Which channel is
// current matters to the rest: a delivery of a dead channel is already requeued by the broker.
import { type AmqpConnection, isTxboxError, type TxboxLogger } from '@txbox/core';
import { backoffDelayMs, settlesWithin } from '@txbox/core/internal';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { inboxChannels } from '../diagnostics/inbox-diagnostics.js';
import type { AckLedger } from '../settlement/ack-ledger.js';
import { declareTopology, type GroupTopology } from '../topology/topology.js';

/** Reconnects: 0.2 s, 0.4 s … up to 10 s. */
const RECONNECT_BACKOFF = { baseDelayMs: 200, maxDelayMs: 10_000 };

export interface ChannelSupervisorOptions {
  group: string;
  amqp: AmqpConnection;
  logger: TxboxLogger;
  prefetch: number;
  /** Read at each (re)connect: the topology follows the handlers registered before start. */
  topology(): GroupTopology;
  /**
   * What to declare on each (re)connect and which queue to consume. @defaultValue the whole
   * topology, and its queue (a partition's channel declares and consumes its partition queue).
   */
  consumes?: {
    declare(channel: ConfirmChannel, topology: GroupTopology): Promise<void>;
    queue(t: GroupTopology): string;
  };
  isStopping(): boolean;
  onDelivery(channel: ConfirmChannel, message: ConsumeMessage): void;
  /** Where the channel's acknowledgements coalesce (flushed before a graceful close). */
  acks: AckLedger;
}

const WHOLE_TOPOLOGY = { declare: declareTopology, queue: (t: GroupTopology) => t.queue };

export class ChannelSupervisor {
  readonly #o: ChannelSupervisorOptions;
  #channel: ConfirmChannel | undefined;
  #consumerTag: string | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectFailures = 0;
  #detached = false;
  #prefetch: number;
  /** A single-active-consumer group's channel, detached by cancel() and closed by close(). */
  #stopChannel: ConfirmChannel | undefined;

  constructor(options: ChannelSupervisorOptions) {
    this.#o = options;
    this.#prefetch = options.prefetch;
  }

  get connected(): boolean {
    return this.#channel !== undefined;
  }

  isCurrent(channel: ConfirmChannel): boolean {
    return this.#channel === channel;
  }

  /**
   * Connects once. Refused credentials fail it (a configuration error); an unreachable broker
   * does not: the application's API and outbox writes work without RabbitMQ, so start() must
   * not hold up its startup. It keeps trying in the background; stats().connected says so.
   */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      if (isTxboxError(error) && error.code === 'CONNECTION_FAILED' && !error.retryable) throw error;
      this.#o.logger.error('Inbox consumer cannot reach RabbitMQ yet; retrying in the background', {
        group: this.#o.group,
        url: this.#o.amqp.safeUrl,
        error: (error as Error).message,
      });
      queueMicrotask(() => this.#scheduleReconnect());
    }
  }

  /** Stops reconnecting and consuming; deliveries already received keep their channel until close(). */
  async cancel(): Promise<void> {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#o.topology().singleActiveConsumer) {
      // A basic.cancel would make the standby instance active at once, while deliveries of this one
      // still run: it could handle a key's next message first. Detach instead (unstarted deliveries
      // are skipped), and close() hands the rest back in place as the consumer goes.
      this.#stopChannel = this.detach();
      return;
    }
    const channel = this.#channel;
    // Each broker round trip is bounded: a broker that stopped answering must not hang stop().
    if (channel && this.#consumerTag) await settlesWithin(channel.cancel(this.#consumerTag), 2000);
  }

  /** Changes the prefetch, now on the open channel and at every reconnect (a partition's share changed). */
  setPrefetch(prefetch: number): void {
    if (prefetch === this.#prefetch) return;
    this.#prefetch = prefetch;
    this.#channel?.prefetch(prefetch).catch(() => {});
  }

  /**
   * Stops reconnecting and makes the channel no longer current, but leaves it open: deliveries not
   * yet started are skipped as stale (the broker still counts them as this channel's), the running
   * ones finish and are acknowledged. Closing the returned channel then hands the skipped ones
   * back to the queue, in their places and in the same broker step that removes this consumer.
   */
  detach(): ConfirmChannel | undefined {
    this.#detached = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const channel = this.#channel;
    this.#channel = undefined;
    this.#consumerTag = undefined;
    return channel;
  }

  /** Closes the channel: unacknowledged deliveries return to the queue. */
  async close(): Promise<void> {
    const channel = this.#channel ?? this.#stopChannel;
    this.#channel = undefined;
    this.#stopChannel = undefined;
    if (!channel) return;
    // Acknowledgements still coalescing go out first: closing would requeue those deliveries.
    this.#o.acks.flushNow(channel);
    await settlesWithin(channel.close(), 2000);
  }

  async #connect(): Promise<void> {
    const { group, logger } = this.#o;
    // One attempt: retries are #scheduleReconnect's timer, which stop() can cancel.
    const model = await this.#o.amqp.channelModel({ retry: false });
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => {
      logger.warn('Inbox channel error', { group, error: error.message });
    });
    channel.on('close', () => {
      this.#o.acks.forget(channel);
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#consumerTag = undefined;
      if (!this.#stopping()) {
        inboxChannels.error.publish({ group, error: new Error('channel closed') });
        logger.warn('Inbox channel closed; reconnecting', { group });
        this.#scheduleReconnect();
      }
    });
    try {
      const topology = this.#o.topology();
      const consumes = this.#o.consumes ?? WHOLE_TOPOLOGY;
      await consumes.declare(channel, topology);
      await channel.prefetch(this.#prefetch);
      if (this.#stopping()) {
        // stop() ran while this (re)connect was under way: do not start consuming.
        await settlesWithin(channel.close(), 2000);
        return;
      }
      this.#channel = channel;
      const queue = consumes.queue(topology);
      const { consumerTag } = await channel.consume(queue, (message) => {
        if (message) {
          this.#o.onDelivery(channel, message);
          return;
        }
        // null: the broker cancelled the consumer (queue deleted, node failover). Consuming
        // would silently stop: drop the channel and come back through the reconnect path.
        logger.warn('RabbitMQ cancelled the inbox consumer; re-declaring and resuming', { group });
        channel.close().catch(() => {});
      });
      if (this.#detached) {
        // Detached while the consume was under way: nobody tracks this channel any more.
        await settlesWithin(channel.close(), 2000);
        return;
      }
      this.#consumerTag = consumerTag;
      if (this.#reconnectFailures > 0) logger.info('Inbox consumer consuming', { group, queue });
      this.#reconnectFailures = 0;
    } catch (error) {
      this.#channel = undefined;
      await channel.close().catch(() => {});
      throw error;
    }
  }

  #stopping(): boolean {
    return this.#detached || this.#o.isStopping();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer || this.#stopping()) return;
    this.#reconnectFailures += 1;
    const delay = backoffDelayMs(this.#reconnectFailures, RECONNECT_BACKOFF);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#stopping()) return;
      this.#connect().catch((error: unknown) => {
        if (this.#stopping()) return;
        inboxChannels.error.publish({ group: this.#o.group, error });
        this.#o.logger.warn('Inbox reconnect failed; retrying', {
          group: this.#o.group,
          error: (error as Error).message,
        });
        this.#scheduleReconnect();
      });
    }, delay);
  }
}
