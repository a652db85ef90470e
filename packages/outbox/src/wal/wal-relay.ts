import { type AmqpConnection, TxboxError, type TxboxLogger } from '@txbox/core';
import {
  Lifecycle,
  type OwnedPool,
  resolveAmqpConnection,
  resolvePool,
  settlesWithin,
  withDedicatedClient,
} from '@txbox/core/internal';
import type { DeadLetters } from '../dead-letters/dead-letters.js';
import { ConfirmPublisher } from '../relay/confirm-publisher.js';
import { OutboxRelay } from '../relay/outbox-relay.js';
import { type ResolvedRelayOptions, resolveRelayOptions } from '../relay/relay-options.js';
import type { CleanupResult } from '../retention/cleanup.js';
import { outboxTables } from '../sql/outbox-tables.js';
import type { OutboxStats } from '../stats/stats.js';
import { WalBatchProcessor } from './wal-batch.js';
import { walMessagePrefix } from './wal-message.js';
import { type ResolvedWalOptions, resolveWalOptions, type WalRelayOptions } from './wal-relay-options.js';
import { assertWalLevel, readSlotState, type WalSlotNames, walSlotNames } from './wal-slot.js';
import { WalStreamer } from './wal-streamer.js';

/** The outbox table's counts (parked messages) plus the slot's state. */
export interface WalRelayStats extends OutboxStats {
  slot: {
    name: string;
    /** A connection (some relay instance) streams the slot. */
    active: boolean;
    /** This instance is the one streaming. */
    streaming: boolean;
    /** WAL the slot holds that its reader has not confirmed: disk PostgreSQL cannot recycle. */
    lagBytes: number;
    /** Age of the oldest commit read but not settled, on the streaming instance; null elsewhere. */
    lagSeconds: number | null;
  };
}

/**
 * Publishes what WAL-mode writers commit, read in commit order from a logical replication
 * slot. Run any number: one streams (a slot admits one connection), the others stand by and
 * take over within about `standbyRetryMs` when it dies. Messages that must wait (a retry, a
 * delay, an earlier message of their key that waits) are parked in the outbox table, which
 * every instance drains like a table-mode relay.
 */
export class WalRelay {
  readonly relayId: string;
  readonly deadLetters: DeadLetters;
  readonly #names: WalSlotNames;
  readonly #options: ResolvedRelayOptions;
  readonly #wal: ResolvedWalOptions;
  readonly #db: OwnedPool;
  readonly #amqp: AmqpConnection;
  readonly #ownsAmqp: boolean;
  readonly #logger: TxboxLogger;
  readonly #publisher: ConfirmPublisher;
  readonly #parked: OutboxRelay;
  readonly #streamer: WalStreamer;
  readonly #lifecycle = new Lifecycle('relay');
  #running: Promise<void> | undefined;

  constructor(options: WalRelayOptions) {
    this.#wal = resolveWalOptions(options);
    this.#options = resolveRelayOptions(options);
    this.#names = walSlotNames({ schema: this.#options.schema, slot: this.#wal.slot });
    this.relayId = this.#options.relayId;
    this.#logger = this.#options.logger;
    this.#db = resolvePool(options.database, { applicationName: 'txbox-wal-relay' });
    const amqp = resolveAmqpConnection(options.amqp, {
      option: 'relay.amqp',
      connectionName: `txbox-wal-relay ${this.relayId}`,
      logger: this.#logger,
    });
    this.#amqp = amqp.connection;
    this.#ownsAmqp = amqp.owned;
    // The parked messages are a table-mode outbox: the table relay drains them, on the
    // connections this relay owns (borrowed: it never closes them).
    this.#parked = new OutboxRelay({
      ...options,
      relayId: this.relayId,
      database: this.#db.pool,
      amqp: this.#amqp,
      listen: false,
    });
    this.deadLetters = this.#parked.deadLetters;
    this.#publisher = new ConfirmPublisher({
      connection: this.#amqp,
      logger: this.#logger,
      declareExchanges: this.#options.declareExchanges,
      publishTimeoutMs: this.#options.publishTimeoutMs,
    });
    const tables = outboxTables(this.#options.schema);
    this.#streamer = new WalStreamer({
      relayId: this.relayId,
      clientConfig: this.#db.clientConfig,
      pool: this.#db.pool,
      slot: this.#names.slot,
      publication: this.#names.publication,
      prefix: walMessagePrefix(this.#options.schema),
      publisher: this.#publisher,
      processor: new WalBatchProcessor({
        relayId: this.relayId,
        pool: this.#db.pool,
        tables,
        publisher: this.#publisher,
        retryStrategy: this.#options.retryStrategy,
        onUnroutable: this.#options.onUnroutable,
        logger: this.#logger,
      }),
      batchSize: this.#options.batchSize,
      maxInFlightBatches: this.#options.maxInFlightBatches,
      standbyRetryMs: this.#wal.standbyRetryMs,
      statusIntervalMs: this.#wal.statusIntervalMs,
      logger: this.#logger,
    });
  }

  get isRunning(): boolean {
    return this.#lifecycle.isRunning;
  }

  /** True while this instance holds the slot (the others stand by). */
  get isStreaming(): boolean {
    return this.#streamer.isStreaming;
  }

  /**
   * Checks `wal_level`, the slot and the outbox schema, then streams (or stands by) and drains
   * parked messages. Fails with WalLevelError or WalSlotMissingError; a slot in use is not an
   * error (this instance waits for it). Idempotent.
   */
  async start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      await withDedicatedClient(this.#db.pool, async (client) => {
        await assertWalLevel(client);
        await readSlotState(client, this.#names.slot);
      });
      await this.#parked.start();
      this.#running = this.#streamer.run();
      this.#logger.info('WAL relay started', { relayId: this.relayId, slot: this.#names.slot });
    });
  }

  /**
   * Stops streaming once the batch in hand is settled (up to `stopTimeoutMs`; an unsettled one
   * is read again by the next streamer), stops draining, and closes what it opened. Idempotent.
   */
  async stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      this.#streamer.stop();
      const running = this.#running ?? Promise.resolve();
      if (!(await settlesWithin(running, this.#options.stopTimeoutMs))) {
        this.#logger.warn('WAL relay stop timed out; the unsettled batch will be read again', {
          relayId: this.relayId,
        });
      }
      await this.#publisher.close();
      await settlesWithin(running, 1000);
      await this.#parked.stop();
      if (this.#ownsAmqp) await this.#amqp.close();
      if (this.#db.owned) await this.#db.pool.end().catch(() => {});
      this.#logger.info('WAL relay stopped', { relayId: this.relayId });
    });
  }

  /** Parked messages and dead letters (the table's counts) and the slot's lag. */
  async stats(): Promise<WalRelayStats> {
    if (this.#lifecycle.isStopping) throw new TxboxError('STOPPED', 'The relay was stopped');
    const [table, slot] = await Promise.all([this.#parked.stats(), readSlotState(this.#db.pool, this.#names.slot)]);
    return {
      ...table,
      slot: {
        name: this.#names.slot,
        active: slot.active,
        streaming: this.#streamer.isStreaming,
        lagBytes: slot.lagBytes,
        lagSeconds: this.#streamer.lagSeconds(),
      },
    };
  }

  /** Retention of parked messages kept as published and of dead letters (the table relay's). */
  cleanup(): Promise<CleanupResult> {
    return this.#parked.cleanup();
  }
}

/** Creates a {@link WalRelay}. */
export function createWalRelay(options: WalRelayOptions): WalRelay {
  return new WalRelay(options);
}
