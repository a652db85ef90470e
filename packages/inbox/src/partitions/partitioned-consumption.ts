// A partitioned group's consuming side: one channel per partition this instance owns, and the
// rebalance loop that takes partitions and hands them over (ownership: partition-leases.ts).
//
// The hand-over protocol keeps a key's order across instances. The partition's channel is
// detached first (deliveries not yet started are skipped; they stay unacknowledged), the running
// ones finish and are acknowledged, then the channel closes: the broker puts the skipped ones
// back in their places and removes the consumer in one step, and only then is the lock released
// for the next owner, whose consumer the broker activates (single active consumer) with the
// oldest message first. If this instance died instead, its channels close the same way.
//
// An instance that cannot do its share withdraws: cut off from RabbitMQ (its partitions would
// stand still) or from PostgreSQL (its handlers fail, its locks are gone) for longer than leaseMs,
// it hands everything over and leaves the group until it can reach both again.
import { type AmqpConnection, ConfigurationError, isTxboxError, type TxboxLogger } from '@txbox/core';
import { every, settlesWithin } from '@txbox/core/internal';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type pg from 'pg';
import { ChannelSupervisor } from '../channel/channel-supervisor.js';
import type { AckLedger } from '../settlement/ack-ledger.js';
import { declarePartitionQueue, declareTopology, type GroupTopology } from '../topology/topology.js';
import { PartitionLeases, type RebalanceStep } from './partition-leases.js';
import { checkPartitionLeftovers } from './partition-topology-checks.js';

export interface PartitionedConsumptionOptions {
  group: string;
  schema: string;
  amqp: AmqpConnection;
  pool: pg.Pool;
  logger: TxboxLogger;
  /** Unacknowledged deliveries for the whole instance, split over the partitions it owns. */
  prefetch: number;
  /** No partition channel gets less than one batch. */
  minPrefetch: number;
  partitions: { count: number; rebalanceIntervalMs: number; leaseMs: number };
  topology(): GroupTopology;
  isStopping(): boolean;
  onDelivery(channel: ConfirmChannel, message: ConsumeMessage): void;
  /** Resolves when no delivery of the channel is running or waiting (the intake knows). */
  drained(channel: ConfirmChannel): Promise<void>;
  acks: AckLedger;
}

export class PartitionedConsumption {
  readonly #o: PartitionedConsumptionOptions;
  readonly #leases: PartitionLeases;
  readonly #partitions = new Map<number, ChannelSupervisor>();
  /** Hand-overs under way, chained per partition: a partition taken again waits for its own hand-over. */
  readonly #handingOver = new Map<number, Promise<void>>();
  /** The latest wish to consume each partition: a start deferred behind a hand-over runs only if still wanted. */
  readonly #wanted = new Map<number, symbol>();
  /** Channels detached and not yet closed (by their hand-over, or by close() at stop). */
  #detached: ConfirmChannel[] = [];
  /** Whether this process declared the whole topology since it started (then a partition declares only its queue). */
  #declared = false;
  #stopLoop: () => void = () => {};
  #stepping: Promise<void> | undefined;
  #lastGoodStep = Date.now();
  #brokerDownSince: number | undefined;
  /** Out of the group (see the header) until it can reach both services again. */
  #withdrawn = false;

  constructor(options: PartitionedConsumptionOptions) {
    this.#o = options;
    this.#leases = new PartitionLeases({
      pool: options.pool,
      schema: options.schema,
      group: options.group,
      count: options.partitions.count,
      leaseMs: options.partitions.leaseMs,
      logger: options.logger,
    });
  }

  /** The partitions this instance consumes now. */
  get owned(): number[] {
    return this.#leases.owned;
  }

  /** True when the broker connection is up (with no partition to consume, there is still a group to be in). */
  get connected(): boolean {
    return this.#o.amqp.isConnected;
  }

  isCurrent(channel: ConfirmChannel): boolean {
    for (const supervisor of this.#partitions.values()) if (supervisor.isCurrent(channel)) return true;
    return false;
  }

  /**
   * Checks for leftovers of another configuration and declares the topology (refused credentials,
   * a missing plugin, arguments that differ from the queues' fail start; an unreachable broker
   * does not: each partition declares when it connects), takes a first share (a PostgreSQL too
   * old for it fails start) and starts the rebalance loop.
   */
  async start(): Promise<void> {
    try {
      await checkPartitionLeftovers(this.#o.amqp, this.#o.topology());
      const channel = await this.#o.amqp.createChannel({ retry: false });
      channel.on('error', () => {});
      try {
        await declareTopology(channel, this.#o.topology());
        this.#declared = true;
      } finally {
        await channel.close().catch(() => {});
      }
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      if (isTxboxError(error) && error.code === 'CONNECTION_FAILED' && !error.retryable) throw error;
      if (/PRECONDITION_FAILED/.test(String((error as Error).message))) {
        throw new ConfigurationError(
          'inbox.partitions',
          `${(error as Error).message}: a queue of the group exists with other arguments (its delay queues return messages to the partition exchange once partitions are on). Drain and delete the group's old queues, or give the partitioned group new names (names.queue, names.delayQueuePrefix)`,
        );
      }
      this.#o.logger.warn('Inbox could not declare its partitions yet; each partition declares them when it connects', {
        group: this.#o.group,
        error: (error as Error).message,
      });
    }
    await this.#step(true);
    this.#stopLoop = every(
      this.#o.partitions.rebalanceIntervalMs,
      () => this.#step(false),
      () => {},
    );
  }

  /** At stop: no more rebalancing; every partition's channel detached (running deliveries finish). */
  async cancel(): Promise<void> {
    this.#stopLoop();
    // A step stuck on an unanswering server is bounded by its statements' timeout; stop() does not wait that long.
    if (this.#stepping) await settlesWithin(this.#stepping, 2000);
    this.#wanted.clear();
    for (const supervisor of this.#partitions.values()) {
      const channel = supervisor.detach();
      if (channel) this.#detached.push(channel);
    }
    this.#partitions.clear();
  }

  /**
   * Closes every detached channel now (stop() already waited for running handlers up to its
   * timeout; what is unacknowledged returns to the queues), lets hand-overs finish (bounded), then
   * ends the locks. The next owner's consumer stays on standby until these channels are closed.
   */
  async close(): Promise<void> {
    const channels = [...this.#detached];
    this.#detached = [];
    await Promise.allSettled(channels.map((channel) => this.#close(channel)));
    await settlesWithin(Promise.allSettled([...this.#handingOver.values()]), 2000);
    this.#leases.close();
  }

  #step(first: boolean): Promise<void> {
    this.#stepping ??= this.#rebalance(first).finally(() => {
      this.#stepping = undefined;
    });
    return this.#stepping;
  }

  async #rebalance(first: boolean): Promise<void> {
    if (this.#o.isStopping()) return;
    const { leaseMs } = this.#o.partitions;
    if (!(await this.#brokerReachable())) {
      this.#brokerDownSince ??= Date.now();
      if (Date.now() - this.#brokerDownSince > leaseMs) this.#withdraw('RabbitMQ is unreachable');
      if (this.#withdrawn) return;
    } else {
      this.#brokerDownSince = undefined;
    }
    let step: RebalanceStep;
    try {
      step = await this.#leases.step();
      this.#lastGoodStep = Date.now();
    } catch (error) {
      if (first && error instanceof ConfigurationError) throw error;
      this.#o.logger.warn('Inbox partition rebalance failed; retrying', {
        group: this.#o.group,
        error: (error as Error).message,
      });
      if (Date.now() - this.#lastGoodStep > leaseMs) this.#withdraw('PostgreSQL is unreachable');
      return;
    }
    if (this.#withdrawn) {
      this.#withdrawn = false;
      this.#o.logger.info('Inbox instance rejoins its group', { group: this.#o.group });
    }
    for (const partition of step.give) this.#handOver(partition);
    for (const partition of step.take) this.#consume(partition);
    // Short of its share, the partitions it waits for free up as soon as their owners' hand-overs
    // finish: look again well before the next interval, so a share-out takes one hand-over, not two intervals.
    if (step.short) {
      const soon = setTimeout(() => void this.#step(false), Math.max(50, this.#o.partitions.rebalanceIntervalMs / 5));
      soon.unref();
    }
    if (step.give.length > 0 || step.take.length > 0) {
      this.#splitPrefetch();
      this.#o.logger.info('Inbox partitions rebalanced', {
        group: this.#o.group,
        took: step.take,
        gave: step.give,
        owned: this.#leases.owned,
      });
    }
  }

  /** Whether RabbitMQ answers; asked of the connection itself when no partition channel keeps it open. */
  async #brokerReachable(): Promise<boolean> {
    if (this.#o.amqp.isConnected) return true;
    if (!this.#withdrawn && this.#partitions.size > 0) return false; // the partitions' own reconnects are under way
    return this.#o.amqp.channelModel({ retry: false }).then(
      () => true,
      () => false,
    );
  }

  #withdraw(reason: string): void {
    if (this.#withdrawn) return;
    this.#withdrawn = true;
    const given = this.#leases.withdraw();
    this.#o.logger.warn('Inbox instance withdraws from its group until it can reach RabbitMQ and PostgreSQL again', {
      group: this.#o.group,
      reason,
      gave: given,
    });
    for (const partition of given) this.#handOver(partition);
  }

  /** Each owned partition's share of the instance's prefetch (at least one batch). */
  #prefetchEach(): number {
    return Math.max(this.#o.minPrefetch, Math.ceil(this.#o.prefetch / Math.max(1, this.#leases.owned.length)));
  }

  #splitPrefetch(): void {
    const each = this.#prefetchEach();
    for (const supervisor of this.#partitions.values()) supervisor.setPrefetch(each);
  }

  /** Acknowledgements still coalescing go out first: closing requeues what is unacknowledged. */
  #close(channel: ConfirmChannel): Promise<boolean> {
    this.#o.acks.flushNow(channel);
    return settlesWithin(channel.close(), 2000);
  }

  #consume(partition: number): void {
    const wish = Symbol(`partition ${partition}`);
    this.#wanted.set(partition, wish);
    const start = () => {
      if (this.#wanted.get(partition) !== wish || this.#o.isStopping() || this.#partitions.has(partition)) return;
      // Declared with the whole topology at start (or by the partition that connected first): the
      // first connect only consumes; reconnects declare the partition queue again.
      let declared = this.#declared;
      const supervisor = new ChannelSupervisor({
        group: this.#o.group,
        amqp: this.#o.amqp,
        logger: this.#o.logger,
        prefetch: this.#prefetchEach(),
        topology: this.#o.topology,
        isStopping: this.#o.isStopping,
        onDelivery: this.#o.onDelivery,
        acks: this.#o.acks,
        consumes: {
          declare: async (channel, topology) => {
            if (declared) {
              declared = false;
              return;
            }
            if (this.#declared) return declarePartitionQueue(channel, topology, partition);
            await declareTopology(channel, topology);
            this.#declared = true;
          },
          queue: (topology) =>
            (topology.partitions as NonNullable<GroupTopology['partitions']>).queues[partition] as string,
        },
      });
      this.#partitions.set(partition, supervisor);
      supervisor.start().catch((error: unknown) => {
        this.#o.logger.error('Inbox partition cannot consume', {
          group: this.#o.group,
          partition,
          error: (error as Error).message,
        });
      });
    };
    const previous = this.#handingOver.get(partition);
    if (previous) void previous.then(start);
    else start();
  }

  #handOver(partition: number): void {
    this.#wanted.delete(partition);
    const supervisor = this.#partitions.get(partition);
    this.#partitions.delete(partition);
    const channel = supervisor?.detach();
    if (channel) this.#detached.push(channel);
    const previous = this.#handingOver.get(partition) ?? Promise.resolve();
    const done = previous
      .then(async () => {
        if (!channel) return;
        // Until this close, the channel's consumer stays the partition's active one (the broker
        // keeps the next owner's on standby), so nothing of the partition runs elsewhere meanwhile.
        await this.#o.drained(channel);
        if (!this.#detached.includes(channel)) return; // stop() closed it already
        this.#detached = this.#detached.filter((c) => c !== channel);
        await this.#close(channel);
      })
      .then(() => this.#leases.release(partition))
      .catch(() => {})
      .finally(() => {
        if (this.#handingOver.get(partition) === done) this.#handingOver.delete(partition);
      });
    this.#handingOver.set(partition, done);
  }
}
