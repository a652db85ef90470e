// The public face of the inbox: parses the options once, wires the units (channel supervision,
// intake, triage, the transaction runner, settlement) and owns the lifecycle. Each unit lives in
// its own folder; this file holds no delivery logic of its own.
import {
  type AmqpConnection,
  type AnyMessageContract,
  ConfigurationError,
  REPUBLISH_HEADERS,
  silentLogger,
  TxboxError,
  type TxboxLogger,
} from '@txbox/core';
import {
  assertSchemaReady,
  every,
  guardPool,
  Lifecycle,
  type OwnedPool,
  parseOptions,
  queryPool,
  resolveAmqpConnection,
  resolvePool,
  sleep,
} from '@txbox/core/internal';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type pg from 'pg';
import { ChannelSupervisor } from '../channel/channel-supervisor.js';
import { openPgSession, sessionOpener } from '../database/handler-session.js';
import { DeliveryPipeline } from '../delivery/delivery-pipeline.js';
import { TransactionRunner } from '../delivery/transaction-runner.js';
import { registerDirectDelivery } from '../direct-delivery/direct-delivery.js';
import { type FailurePolicy, failurePolicy } from '../failure/failure-policy.js';
import type { MessageHandler } from '../handlers/handler.js';
import { runHandler } from '../handlers/handler-context.js';
import { HandlerTable } from '../handlers/handler-table.js';
import { DeliveryIntake } from '../intake/delivery-intake.js';
import { inboxMigrations } from '../migrations/inbox-migrations.js';
import { PartitionedConsumption } from '../partitions/partitioned-consumption.js';
import { AckLedger } from '../settlement/ack-ledger.js';
import { DeliveryCounters } from '../settlement/delivery-counters.js';
import { Settlement } from '../settlement/settlement.js';
import { deleteOldRecordsSql, type InboxTables, inboxStatsSql, inboxTables } from '../sql/inbox-sql.js';
import { enableInboxMetrics } from '../telemetry/inbox-metrics.js';
import { traceDuplicates, traceProcess } from '../telemetry/process-spans.js';
import { type GroupTopology, groupTopology, type TopologyNames } from '../topology/topology.js';
import { consumerOptionsSchema, type InboxConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js';
import type { InboxStats } from './inbox-stats.js';

/** Headers the inbox writes on retried and dead-lettered copies. */
export const INBOX_HEADERS = REPUBLISH_HEADERS;

/**
 * Consumes a consumer group's queue and runs each message's handler exactly once per
 * (group, message id): the dedup record and the handler's writes commit together, and the
 * delivery is acknowledged only after that commit.
 */
export class InboxConsumer {
  readonly group: string;
  readonly #names: TopologyNames | undefined;
  /** Derived from the options and the handled types; rebuilt when a handler is added. */
  #topology: GroupTopology | undefined;
  readonly #options: ResolvedConsumerOptions;
  readonly #tables: InboxTables;
  readonly #db: OwnedPool;
  readonly #amqp: AmqpConnection;
  readonly #ownsAmqp: boolean;
  readonly #logger: TxboxLogger;
  readonly #handlers: HandlerTable;
  readonly #policy: FailurePolicy;
  readonly #lifecycle = new Lifecycle('inbox consumer');
  readonly #counters = new DeliveryCounters();
  /** One channel on the group's queue, or (partitioned) one per partition this instance owns. */
  readonly #channels: ChannelSupervisor | PartitionedConsumption;
  readonly #intake: DeliveryIntake;
  readonly #acks = new AckLedger();
  #stopRetention: () => void = () => {};

  constructor(options: InboxConsumerOptions) {
    if (!options || typeof options !== 'object') throw new ConfigurationError('inbox', 'options are required');
    this.#options = parseOptions(consumerOptionsSchema, options, 'inbox');
    this.group = this.#options.group;
    this.#tables = inboxTables(this.#options.schema);
    this.#logger = options.logger ?? silentLogger;
    this.#policy = failurePolicy(this.#options.retry, options.classifyError);
    this.#handlers = new HandlerTable(this.group);
    const dataSource = options.dataSource;
    if (dataSource && typeof dataSource.createQueryRunner !== 'function') {
      throw new ConfigurationError('inbox.dataSource', 'expected a TypeORM DataSource');
    }
    // TypeORM's postgres driver keeps its pg pool in driver.master: guard its clients too.
    const typeOrmPool = (dataSource as { driver?: { master?: unknown } } | undefined)?.driver?.master;
    if (typeOrmPool && typeof (typeOrmPool as { on?: unknown }).on === 'function') guardPool(typeOrmPool as pg.Pool);
    for (const registration of options.handlers ?? []) this.handle(registration.contract, registration.handle);
    // The pool serves one transaction per running handler, plus retention and stats (and the
    // session that holds a partitioned group's locks).
    this.#db = resolvePool(options.database, {
      max: this.#options.concurrency + (this.#options.partitions ? 3 : 2),
      applicationName: `txbox-inbox ${this.group}`,
    });
    const amqp = resolveAmqpConnection(options.amqp, {
      option: 'inbox.amqp',
      connectionName: `txbox-inbox ${this.group}`,
      logger: this.#logger,
    });
    this.#amqp = amqp.connection;
    this.#ownsAmqp = amqp.owned;
    this.#names = options.names;
    // Derive it now, so a bad queue name is refused at construction.
    void this.topology;
    enableInboxMetrics();
    traceDuplicates(this.group, () => this.topology.queue);
    const consuming = {
      group: this.group,
      amqp: this.#amqp,
      logger: this.#logger,
      prefetch: this.#options.prefetch,
      topology: () => this.topology,
      isStopping: () => this.#lifecycle.isStopping,
      onDelivery: (channel: ConfirmChannel, message: ConsumeMessage) => this.#intake.receive(channel, message),
      acks: this.#acks,
    };
    this.#channels = this.#options.partitions
      ? new PartitionedConsumption({
          ...consuming,
          schema: this.#options.schema,
          pool: this.#db.pool,
          partitions: this.#options.partitions,
          minPrefetch: this.#options.batch.maxMessages,
          drained: (channel) => this.#intake.drained(channel),
        })
      : new ChannelSupervisor(consuming);
    const pool = this.#db.pool;
    const openOrmSession = sessionOpener(options); // TypeORM or an ORM adapter's sessions
    const consumer = { group: this.group, outbox: options.outbox };
    const runner = new TransactionRunner({
      group: this.group,
      tables: this.#tables,
      logger: this.#logger,
      openSession: openOrmSession ?? (() => openPgSession(pool)),
      runHandler: traceProcess({ group: this.group, queue: () => this.topology.queue }, (session, item) =>
        runHandler(session, item, consumer),
      ),
    });
    registerDirectDelivery(this, {
      runner,
      group: this.group,
      maxMessageBytes: this.#options.maxMessageBytes,
      rules: () => ({ handlers: this.#handlers.handlers, registry: this.#handlers.registry }),
    });
    const pipeline = new DeliveryPipeline({
      rules: {
        group: this.group,
        handlers: this.#handlers.handlers,
        registry: this.#handlers.registry,
        onUnknownType: this.#options.onUnknownType,
        isCurrent: (channel) => this.#channels.isCurrent(channel),
      },
      runner,
      settlement: new Settlement({
        group: this.group,
        logger: this.#logger,
        policy: this.#policy,
        topology: () => this.topology,
        counters: this.#counters,
        acks: this.#acks,
      }),
    });
    this.#intake = new DeliveryIntake({
      concurrency: this.#options.concurrency,
      batch: this.#options.batch,
      maxMessageBytes: this.#options.maxMessageBytes,
      acks: this.#acks,
      process: (deliveries) => pipeline.process(deliveries),
    });
  }

  /** The group's queue, delay queues, dead-letter queue and bindings (see the naming rule). */
  get topology(): GroupTopology {
    this.#topology ??= groupTopology({
      group: this.group,
      exchange: this.#options.exchange,
      names: this.#names,
      retryDelaysMs: [...this.#policy.delaysMs],
      bindings: this.#options.bindings ?? [...this.#handlers.handlers.keys()],
      queueType: this.#options.queueType,
      deliveryLimit: this.#options.deliveryLimit,
      singleActiveConsumer: this.#options.singleActiveConsumer,
      partitionCount: this.#options.partitions?.count,
    });
    return this.#topology;
  }

  /**
   * Registers the handler of a contract (and, through its upcasters, of its older versions).
   * Call before `start()`.
   */
  handle<C extends AnyMessageContract>(contract: C, handler: MessageHandler<C>): this {
    this.#assertNotStopped('handle()');
    if (this.#lifecycle.state !== 'new')
      throw new ConfigurationError('inbox.handlers', 'register handlers before start()');
    this.#handlers.add(contract, handler);
    this.#topology = undefined; // the bindings follow the handled types
    return this;
  }

  get isRunning(): boolean {
    return this.#lifecycle.isRunning;
  }

  /**
   * Checks the schema, declares the topology and starts consuming. Idempotent. Fails when
   * no handler is registered, when the inbox schema is missing or newer than this code, and
   * after `stop()` (create a new consumer to start again).
   */
  async start(): Promise<void> {
    return this.#lifecycle.start(async () => {
      if (this.#handlers.handlers.size === 0) {
        throw new ConfigurationError('inbox.handlers', `group ${this.group} has no handlers; register at least one`);
      }
      await assertSchemaReady(this.#db, inboxMigrations, this.#options.schema);
      await this.#channels.start();
      this.#stopRetention = every(
        this.#options.retention.intervalMs,
        () => this.cleanup(),
        (error) => this.#logger.warn('Inbox retention failed', { error: (error as Error).message }),
      );
      // Say what is true: without the broker the consumer is started but consumes nothing yet.
      if (this.#channels.connected) {
        this.#logger.info('Inbox consumer started', { group: this.group, queue: this.topology.queue });
      } else {
        this.#logger.warn('Inbox consumer started without RabbitMQ; it consumes once the broker is reachable', {
          group: this.group,
          queue: this.topology.queue,
        });
      }
    });
  }

  /**
   * Cancels consuming, waits for running handlers (up to `stopTimeoutMs`) so their acks are
   * sent, then closes the channel (unacknowledged deliveries return to the queue) and what
   * the consumer opened. Idempotent.
   */
  async stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      this.#stopRetention();
      await this.#channels.cancel();
      const idle = this.#intake.idle();
      const finished = await Promise.race([
        idle.then(() => true),
        sleep(this.#options.stopTimeoutMs).then(() => false),
      ]);
      if (!finished) {
        this.#logger.warn('Inbox stop timed out with handlers still running; their messages will be redelivered', {
          group: this.group,
          inFlight: this.#intake.inFlight,
        });
      }
      await this.#channels.close();
      if (this.#ownsAmqp) await this.#amqp.close();
      if (!finished) await Promise.race([idle, sleep(1000)]);
      if (this.#db.owned) await Promise.race([this.#db.pool.end().catch(() => {}), sleep(2000)]);
      this.#logger.info('Inbox consumer stopped', { group: this.group });
    });
  }

  /**
   * This instance's counters and the group's inbox records. Works after `stop()` too: the
   * counters are final then, and the record figures are `null` if the consumer closed its own pool
   * (or PostgreSQL does not answer).
   */
  async stats(): Promise<InboxStats> {
    // The counters answer without PostgreSQL (a health check must see them when it is down).
    const row = await this.#recordStats().catch(() => undefined);
    return {
      group: this.group,
      ...this.#counters.counts,
      inFlight: this.#intake.inFlight,
      handlerDurationMs: this.#counters.handlerDurationMs,
      records: row?.records ?? null,
      oldestRecordAgeMs: row ? Math.round(row.oldest_record_age_ms) : null,
      retentionMs: this.#options.retention.processedMs,
      connected: this.#channels.connected,
      partitions:
        this.#channels instanceof PartitionedConsumption && this.#options.partitions
          ? { count: this.#options.partitions.count, owned: this.#channels.owned }
          : null,
    };
  }

  /** Deletes this group's inbox records older than the retention window, in small batches. */
  async cleanup(): Promise<{ deleted: number }> {
    if (this.#db.owned) this.#assertNotStopped('cleanup()');
    const { processedMs, batchSize } = this.#options.retention;
    let deleted = 0;
    for (;;) {
      const { rowCount } = await queryPool(this.#db.pool, deleteOldRecordsSql(this.#tables), [
        processedMs,
        batchSize,
        this.group,
      ]);
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < batchSize) return { deleted };
    }
  }

  async #recordStats() {
    if (this.#db.owned && this.#lifecycle.isStopping) return undefined;
    const empty = { records: 0, oldest_record_age_ms: 0 };
    const { rows } = await queryPool<typeof empty>(this.#db.pool, inboxStatsSql(this.#tables), [this.group]);
    return rows[0] ?? empty;
  }

  #assertNotStopped(method: string): void {
    if (this.#lifecycle.isStopping) {
      throw new TxboxError(
        'STOPPED',
        `Consumer group ${this.group} was stopped: ${method} is not available; create a new consumer`,
      );
    }
  }
}

/** Creates an {@link InboxConsumer}. */
export function createConsumer(options: InboxConsumerOptions): InboxConsumer {
  return new InboxConsumer(options);
}
