// A partitioned group's consuming side: one channel per partition this instance owns, and the
// rebalance loop that takes partitions and hands them over (ownership: partition-leases.ts).
//
// The hand-over protocol keeps a key's order across instances. The partition's channel is
// detached first (deliveries not yet started are skipped; they stay unacknowledged), the running
// ones finish and are acknowledged, then the channel closes: the broker puts the skipped ones
// back in their places and removes the consumer in one step, and only then is the lock released
// for the next owner, whose consumer the broker activates (single active consumer) with the
// oldest message first. If this instance died instead, its channels close the same way.
import { type AmqpConnection, ConfigurationError, type TxboxLogger } from '@txbox/core';
import { every, settlesWithin } from '@txbox/core/internal';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type pg from 'pg';
import { ChannelSupervisor } from '../channel/channel-supervisor.js';
import type { AckLedger } from '../settlement/ack-ledger.js';
import { declarePartitionQueue, declareTopology, type GroupTopology } from '../topology/topology.js';
import { PartitionLeases } from './partition-leases.js';

export interface PartitionedConsumptionOptions {
  group: string;
  schema: string;
  amqp: AmqpConnection;
  pool: pg.Pool;
  logger: TxboxLogger;
  prefetch: number;
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
  /** Hand-overs under way: a partition taken again waits for its own hand-over to finish. */
  readonly #handingOver = new Map<number, Promise<void>>();
  /** Channels detached at stop, closed by close(). */
  #detached: ConfirmChannel[] = [];
  /** Whether this process declared the whole topology since it started (then a partition declares only its queue). */
  #declared = false;
  #stopLoop: () => void = () => {};
  #stepping: Promise<void> | undefined;

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
   * Declares the topology (a broker without the consistent-hash plugin fails start with a
   * ConfigurationError; an unreachable one does not: each partition declares it when it connects),
   * takes a first share and starts the rebalance loop.
   */
  async start(): Promise<void> {
    try {
      const channel = await this.#o.amqp.createChannel({ retry: false });
      try {
        await declareTopology(channel, this.#o.topology());
        this.#declared = true;
      } finally {
        await channel.close().catch(() => {});
      }
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      this.#o.logger.warn('Inbox could not declare its partitions yet; each partition declares them when it connects', {
        group: this.#o.group,
        error: (error as Error).message,
      });
    }
    await this.#step();
    this.#stopLoop = every(
      this.#o.partitions.rebalanceIntervalMs,
      () => this.#step(),
      () => {},
    );
  }

  /** At stop: no more rebalancing; every partition's channel detached (running deliveries finish). */
  async cancel(): Promise<void> {
    this.#stopLoop();
    await this.#stepping;
    for (const supervisor of this.#partitions.values()) {
      const channel = supervisor.detach();
      if (channel) this.#detached.push(channel);
    }
    this.#partitions.clear();
  }

  /**
   * Closes every detached channel now (stop() already waited for running handlers up to its
   * timeout; what is unacknowledged returns to the queues), then ends the locks. A hand-over still
   * waiting ends here too: the next owner's consumer stays on standby until these channels close.
   */
  async close(): Promise<void> {
    const channels = [...this.#detached];
    this.#detached = [];
    await Promise.allSettled(
      channels.map((channel) => {
        this.#o.acks.flushNow(channel);
        return settlesWithin(channel.close(), 2000);
      }),
    );
    this.#leases.close();
  }

  #step(): Promise<void> {
    this.#stepping ??= this.#rebalance().finally(() => {
      this.#stepping = undefined;
    });
    return this.#stepping;
  }

  async #rebalance(): Promise<void> {
    if (this.#o.isStopping()) return;
    let step: Awaited<ReturnType<PartitionLeases['step']>>;
    try {
      step = await this.#leases.step();
    } catch (error) {
      // Without PostgreSQL nothing is handled anyway; what this instance consumes stays as it is.
      this.#o.logger.warn('Inbox partition rebalance failed; retrying', {
        group: this.#o.group,
        error: (error as Error).message,
      });
      return;
    }
    for (const partition of step.give) this.#handOver(partition);
    for (const partition of step.take) this.#consume(partition);
    if (step.give.length > 0 || step.take.length > 0) {
      this.#o.logger.info('Inbox partitions rebalanced', {
        group: this.#o.group,
        took: step.take,
        gave: step.give,
        owned: this.#leases.owned,
      });
    }
  }

  #consume(partition: number): void {
    const start = () => {
      if (this.#o.isStopping() || this.#partitions.has(partition)) return;
      const supervisor = new ChannelSupervisor({
        group: this.#o.group,
        amqp: this.#o.amqp,
        logger: this.#o.logger,
        prefetch: this.#o.prefetch,
        topology: this.#o.topology,
        isStopping: this.#o.isStopping,
        onDelivery: this.#o.onDelivery,
        acks: this.#o.acks,
        consumes: {
          declare: async (channel, topology) => {
            if (this.#declared) return declarePartitionQueue(channel, topology, partition);
            await declareTopology(channel, topology);
            this.#declared = true;
          },
          queue: (topology) =>
            (topology.partitions as NonNullable<GroupTopology['partitions']>).queues[partition] as string,
        },
      });
      this.#partitions.set(partition, supervisor);
      void supervisor.start();
    };
    const previous = this.#handingOver.get(partition);
    if (previous) void previous.then(start);
    else start();
  }

  #handOver(partition: number): void {
    const supervisor = this.#partitions.get(partition);
    this.#partitions.delete(partition);
    const channel = supervisor?.detach();
    if (channel) this.#detached.push(channel);
    const done = (async () => {
      if (channel) {
        // Until this close, the channel's consumer stays the partition's active one (the broker
        // keeps the next owner's on standby), so nothing of the partition runs elsewhere meanwhile.
        await this.#o.drained(channel);
        if (!this.#detached.includes(channel)) return; // stop() closed it already
        this.#detached = this.#detached.filter((c) => c !== channel);
        this.#o.acks.flushNow(channel);
        await settlesWithin(channel.close(), 2000);
      }
      await this.#leases.release(partition);
    })().finally(() => {
      if (this.#handingOver.get(partition) === done) this.#handingOver.delete(partition);
    });
    this.#handingOver.set(partition, done);
  }
}
