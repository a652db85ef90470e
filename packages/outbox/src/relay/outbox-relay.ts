import { type AmqpConnection, TxboxError, type TxboxLogger } from '@txbox/core';
import {
  assertSchemaReady,
  every,
  Lifecycle,
  type OwnedPool,
  resolveAmqpConnection,
  resolvePool,
  sleep,
} from '@txbox/core/internal';
import { OutboxAdmin } from '../admin/outbox-admin.js';
import type { DeadLetters } from '../dead-letters/dead-letters.js';
import { outboxChannels } from '../diagnostics/outbox-diagnostics.js';
import { outboxMigrations } from '../migrations/outbox-migrations.js';
import { type CleanupResult, cleanupOutbox } from '../retention/cleanup.js';
import { type OutboxTables, outboxTables } from '../sql/outbox-tables.js';
import type { OutboxStats } from '../stats/stats.js';
import { enableOutboxMetrics, observeOutboxStats } from '../telemetry/outbox-metrics.js';
import { ConfirmPublisher } from './confirm-publisher.js';
import { NotifyListener } from './notify-listener.js';
import { RelayLoop } from './relay-loop.js';
import { type OutboxRelayOptions, type ResolvedRelayOptions, resolveRelayOptions } from './relay-options.js';
import { RelayStore } from './relay-store.js';
import { BatchSettler, type RelayBatchResult } from './settle-batch.js';

/**
 * Publishes committed outbox messages to RabbitMQ. Run one or many (any number of processes):
 * they share the work through leases, and per-key order holds across all of them.
 */
export class OutboxRelay {
  readonly relayId: string;
  readonly deadLetters: DeadLetters;
  readonly #admin: OutboxAdmin;
  readonly #options: ResolvedRelayOptions;
  readonly #tables: OutboxTables;
  readonly #db: OwnedPool;
  readonly #amqp: AmqpConnection;
  readonly #ownsAmqp: boolean;
  readonly #logger: TxboxLogger;
  readonly #publisher: ConfirmPublisher;
  readonly #store: RelayStore;
  readonly #settler: BatchSettler;
  readonly #loop: RelayLoop;
  readonly #listener: NotifyListener | undefined;
  readonly #lifecycle = new Lifecycle('relay');
  #running: Promise<void> | undefined;
  #stopCleanup: () => void = () => {};
  #stopGauges: () => void = () => {};

  constructor(options: OutboxRelayOptions) {
    this.#options = resolveRelayOptions(options);
    this.#tables = outboxTables(this.#options.schema);
    this.relayId = this.#options.relayId;
    this.#logger = this.#options.logger;
    this.#db = resolvePool(options.database, { applicationName: 'txbox-outbox-relay' });
    const amqp = resolveAmqpConnection(options.amqp, {
      option: 'relay.amqp',
      connectionName: `txbox-relay ${this.relayId}`,
      logger: this.#logger,
    });
    this.#amqp = amqp.connection;
    this.#ownsAmqp = amqp.owned;
    this.#publisher = new ConfirmPublisher({
      connection: this.#amqp,
      logger: this.#logger,
      declareExchanges: this.#options.declareExchanges,
      publishTimeoutMs: this.#options.publishTimeoutMs,
    });
    this.#store = new RelayStore({
      pool: this.#db.pool,
      tables: this.#tables,
      relayId: this.relayId,
      batchSize: this.#options.batchSize,
      leaseMs: this.#options.leaseMs,
      published: this.#options.published,
    });
    this.#settler = new BatchSettler({
      relayId: this.relayId,
      store: this.#store,
      publisher: this.#publisher,
      retryStrategy: this.#options.retryStrategy,
      onUnroutable: this.#options.onUnroutable,
      logger: this.#logger,
    });
    this.#loop = new RelayLoop({
      relayId: this.relayId,
      amqp: this.#amqp,
      publisher: this.#publisher,
      store: this.#store,
      settler: this.#settler,
      batchSize: this.#options.batchSize,
      pollIntervalMs: this.#options.pollIntervalMs,
      awakeMs: this.#options.awakeMs,
      awakePollMs: this.#options.awakePollMs,
      maxInFlightBatches: this.#options.maxInFlightBatches,
      isStopping: () => this.#lifecycle.isStopping,
      logger: this.#logger,
    });
    if (this.#options.listen) {
      this.#listener = new NotifyListener({
        clientConfig: this.#db.clientConfig,
        channel: this.#tables.notifyChannelName,
        onWake: () => this.#loop.requestWake(),
        logger: this.#logger,
      });
    }
    // The relay's pool, borrowed: the admin never ends it.
    this.#admin = new OutboxAdmin({ database: this.#db.pool, schema: this.#options.schema });
    this.deadLetters = this.#admin.deadLetters;
    enableOutboxMetrics();
  }

  get isRunning(): boolean {
    return this.#lifecycle.isRunning;
  }

  /**
   * Checks the schema, starts listening and starts the publish loop. Idempotent; resolves
   * once running. Fails if the outbox schema is missing or newer than this code, and after
   * `stop()` (a stopped relay has closed what it owned: create a new one).
   */
  async start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      try {
        await assertSchemaReady(this.#db, outboxMigrations, this.#options.schema);
        await this.#listener?.start();
      } catch (error) {
        await this.#listener?.stop();
        throw error;
      }
      this.#running = this.#loop.run();
      this.#stopCleanup = every(
        this.#options.retention.intervalMs,
        () => this.cleanup(),
        (error) => this.#logger.warn('Outbox cleanup failed', { error: (error as Error).message }),
      );
      this.#stopGauges = observeOutboxStats(this.#options.schema, () => this.stats());
      outboxChannels.started.publish({ relayId: this.relayId });
      this.#logger.info('Outbox relay started', { relayId: this.relayId });
    });
  }

  /**
   * Stops claiming, waits for in-flight batches (up to `stopTimeoutMs`), releases any
   * leases still held, and closes what the relay opened. Idempotent.
   */
  async stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      this.#stopCleanup();
      this.#stopGauges();
      this.#loop.stop();
      const loop = this.#running ?? Promise.resolve();
      const finished = await Promise.race([
        loop.then(() => true),
        sleep(this.#options.stopTimeoutMs).then(() => false),
      ]);
      if (!finished) {
        this.#logger.warn('Outbox relay stop timed out; releasing leases of the unfinished batches', {
          relayId: this.relayId,
        });
      }
      // Fail whatever still waits for confirms, so the loop can settle and exit.
      await this.#publisher.close();
      await Promise.race([loop, sleep(1000)]);
      await this.#settler.releaseUnsettledLeases();
      // Writers notify again at once instead of counting on this relay's short poll.
      if (this.#options.awakeMs > 0) {
        await this.#store.clearAwake().catch((error: unknown) => {
          this.#logger.debug('Outbox relay could not clear its awake row', { error: (error as Error).message });
        });
      }
      await this.#listener?.stop();
      if (this.#ownsAmqp) await this.#amqp.close();
      if (this.#db.owned) await this.#db.pool.end().catch(() => {});
      outboxChannels.stopped.publish({ relayId: this.relayId });
      this.#logger.info('Outbox relay stopped', { relayId: this.relayId });
    });
  }

  /**
   * Claims, publishes and settles one batch, then returns what it did. For tests and
   * scripts; do not mix with `start()` in one relay.
   */
  async runOnce(): Promise<RelayBatchResult> {
    if (this.#lifecycle.isStopping) throw new TxboxError('STOPPED', 'The relay was stopped');
    await this.#publisher.ready();
    const started = performance.now();
    return this.#settler.publishAndSettle(await this.#store.claim(), started);
  }

  /** Counts of pending, due and leased messages, dead letters, and the age of the oldest due one. */
  stats(): Promise<OutboxStats> {
    return this.#admin.stats();
  }

  /** Deletes old published rows and dead letters per the retention options, in small batches. */
  async cleanup(): Promise<CleanupResult> {
    const r = this.#options.retention;
    return cleanupOutbox(this.#db.pool, this.#tables, {
      publishedMs: r.publishedMs,
      deadLettersMs: r.deadLettersMs,
      batchSize: r.batchSize,
    });
  }
}

/** Creates an {@link OutboxRelay}. */
export function createRelay(options: OutboxRelayOptions): OutboxRelay {
  return new OutboxRelay(options);
}
