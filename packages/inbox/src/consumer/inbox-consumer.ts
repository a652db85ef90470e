import {
  type AmqpConnection,
  type AnyMessageContract,
  assertSchemaReady,
  ConfigurationError,
  type DatabaseInput,
  decodeAmqpMessage,
  type Envelope,
  every,
  guardPool,
  isMessageContract,
  isTxboxError,
  Lifecycle,
  MessageRegistry,
  type OutgoingMessage,
  type OwnedPool,
  parseOptions,
  queryPool,
  resolveAmqpConnection,
  resolvePool,
  settlesWithin,
  silentLogger,
  sleep,
  statementName,
  TxboxError,
  type TxboxLogger,
} from '@txbox/core';
import type { OutboxWriter } from '@txbox/outbox';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type pg from 'pg';
import { z } from 'zod';
import {
  type DataSourceLike,
  type HandlerSession,
  openPgSession,
  openTypeOrmSession,
} from '../database/handler-session.js';
import { type InboxMessageEvent, inboxChannels } from '../diagnostics/inbox-diagnostics.js';
import {
  type BoundOutbox,
  causedBy,
  type HandlerContext,
  type HandlerRegistration,
  type MessageHandler,
} from '../handlers/handler.js';
import { inboxMigrations } from '../migrations/inbox-migrations.js';
import {
  deleteOldRecordsSql,
  forgetDeliverySql,
  type InboxTables,
  inboxStatsSql,
  inboxTables,
  recordDeliveriesSql,
  recordDeliverySql,
} from '../sql/inbox-sql.js';
import {
  declareTopology,
  exponentialDelays,
  type GroupTopology,
  groupTopology,
  type TopologyNames,
} from '../topology/topology.js';
import { KeySerializer } from './key-serializer.js';

export interface InboxConsumerOptions {
  /** Consumer group: one queue, one dedup scope. Every instance of a service uses the same group. */
  group: string;
  /** PostgreSQL: a connection string (the consumer owns a pool of `concurrency + 2`) or a `pg.Pool`. */
  database: DatabaseInput;
  /** RabbitMQ: an amqp:// URL (owned) or a shared {@link AmqpConnection}. */
  amqp: string | AmqpConnection;
  /** Handlers, one per message type (or add them with `consumer.handle()` before `start()`). */
  handlers?: HandlerRegistration[];
  /** Schema of the inbox table. @defaultValue `'txbox'` */
  schema?: string;
  /** Topic exchange the producers publish to. @defaultValue `'txbox.events'` */
  exchange?: string;
  /** Override derived queue names (see the README's naming rule). */
  names?: TopologyNames;
  /** Routing keys to bind; @defaultValue the handled message types */
  bindings?: string[];
  /** `'quorum'` for replicated queues (recommended on clusters). @defaultValue `'classic'` */
  queueType?: 'classic' | 'quorum';
  /** Quorum queues: broker-side cap on redeliveries of one message (crash loops). @defaultValue none */
  deliveryLimit?: number;
  /**
   * Let only one instance of the group consume at a time (RabbitMQ single active consumer);
   * the others take over if it goes away. Turn it on when per-key order must hold across
   * several instances: with competing consumers each instance orders only what it receives.
   * @defaultValue `false`
   */
  singleActiveConsumer?: boolean;
  /**
   * Handle several deliveries in one transaction (each handler in its own savepoint; acks
   * after the commit): far fewer commits and round trips under load. `maxMessages: 1`
   * handles each delivery in its own transaction. At most 64: each handler is a
   * subtransaction, and PostgreSQL slows down past 64 of them in one transaction.
   */
  batch?: {
    /** Most deliveries per transaction. @defaultValue `1` (off) */
    maxMessages?: number;
    /** How long to wait for more deliveries before handling a partial batch. @defaultValue `0` (what arrived together) */
    maxWaitMs?: number;
  };
  /** Unacknowledged deliveries the broker sends ahead. @defaultValue `concurrency * max(4, batch.maxMessages)` */
  prefetch?: number;
  /** Handlers running at once (different ordering keys). @defaultValue `8` */
  concurrency?: number;
  retry?: {
    /** Deliveries in total, including the first, before a failing message is dead-lettered. @defaultValue `5` */
    maxAttempts?: number;
    /** Delay before the first retry; doubles at each step. @defaultValue `1000` */
    baseDelayMs?: number;
    /** Cap on one delay step. @defaultValue `300000` */
    maxDelayMs?: number;
    /** Explicit delays, one per retry step (overrides the three above; maxAttempts = length + 1). */
    delaysMs?: number[];
  };
  /** A delivery whose type no handler knows: `'dead-letter'` it or `'discard'` (ack) it. @defaultValue `'dead-letter'` */
  onUnknownType?: 'dead-letter' | 'discard';
  /** Decide whether a handler error is retried. @defaultValue retry unless it is a txbox error with `retryable: false` */
  classifyError?: (error: unknown) => 'retry' | 'dead-letter';
  /** Run handlers in TypeORM transactions (the context gets `manager`). Must use the postgres driver. */
  dataSource?: DataSourceLike;
  /** An outbox writer to bind to each handler's transaction (`context.outbox`). */
  outbox?: OutboxWriter;
  retention?: {
    /** Inbox records older than this are deleted; a redelivery older than this would run again. @defaultValue `1209600000` (14 days) */
    processedMs?: number;
    /** How often to run retention; `0` disables it. @defaultValue `300000` */
    intervalMs?: number;
    /** Rows per delete statement. @defaultValue `1000` */
    batchSize?: number;
  };
  /** How long `stop()` waits for running handlers. @defaultValue `10000` */
  stopTimeoutMs?: number;
  logger?: TxboxLogger;
}

const optionsSchema = z.object({
  group: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, ".", "_", "-" and ":" only'),
  schema: z.string().default('txbox'),
  exchange: z.string().default('txbox.events'),
  bindings: z.array(z.string()).optional(),
  queueType: z.enum(['classic', 'quorum']).default('classic'),
  deliveryLimit: z.number().int().min(1).optional(),
  singleActiveConsumer: z.boolean().default(false),
  prefetch: z.number().int().min(1).max(65_535).optional(),
  concurrency: z.number().int().min(1).max(1000).default(8),
  batch: z
    .object({
      maxMessages: z.number().int().min(1).max(64, 'must be at most 64 (PostgreSQL subtransaction cache)').default(1),
      maxWaitMs: z.number().int().min(0).max(10_000).default(0),
    })
    .default({ maxMessages: 1, maxWaitMs: 0 }),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).max(100).default(5),
      baseDelayMs: z.number().int().min(1).max(86_400_000).default(1000),
      maxDelayMs: z.number().int().min(1).max(86_400_000).default(300_000),
      delaysMs: z.array(z.number().int().min(1).max(86_400_000)).max(99).optional(),
    })
    .default({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 300_000 }),
  onUnknownType: z.enum(['dead-letter', 'discard']).default('dead-letter'),
  retention: z
    .object({
      processedMs: z
        .number()
        .int()
        .min(0)
        .default(14 * 24 * 3600 * 1000),
      intervalMs: z.number().int().min(0).default(300_000),
      batchSize: z.number().int().min(1).max(100_000).default(1000),
    })
    .default({ processedMs: 14 * 24 * 3600 * 1000, intervalMs: 300_000, batchSize: 1000 }),
  stopTimeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
});

/** Headers the inbox writes on retried and dead-lettered copies. */
export const INBOX_HEADERS = {
  attempt: 'x-txbox-attempt',
  history: 'x-txbox-attempt-history',
  reason: 'x-txbox-dead-letter-reason',
  error: 'x-txbox-error',
  group: 'x-txbox-group',
  originalExchange: 'x-txbox-original-exchange',
  originalRoutingKey: 'x-txbox-original-routing-key',
} as const;

export interface InboxStats {
  group: string;
  /** Handlers committed by this instance since start. */
  processed: number;
  duplicatesSkipped: number;
  retried: number;
  deadLettered: number;
  /** Messages of unknown type discarded (`onUnknownType: 'discard'`). */
  discarded: number;
  /** Handlers running now. */
  inFlight: number;
  /** Mean and max handler duration (ms) since start. */
  handlerDurationMs: { mean: number; max: number };
  /** Inbox records kept for the group, and the age of the oldest: redeliveries older than the retention window would run again. */
  records: number;
  oldestRecordAgeMs: number;
  retentionMs: number;
  connected: boolean;
}

interface AttemptRecord {
  attempt: number;
  at: string;
  error: string;
}

interface Delivery {
  channel: ConfirmChannel;
  message: ConsumeMessage;
  envelope: Envelope | undefined;
  decodeError: unknown;
}

interface ReadyDelivery extends Delivery {
  /** The envelope with its payload validated and upcast to the handler's contract. */
  typed: Envelope;
  handler: MessageHandler;
  attempt: number;
  event: InboxMessageEvent;
}

type Outcome =
  | { kind: 'processed' }
  | { kind: 'duplicate' }
  | { kind: 'failed'; error: unknown; retry: boolean; reason: string };

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
  readonly #options: z.output<typeof optionsSchema>;
  readonly #tables: InboxTables;
  readonly #db: OwnedPool;
  readonly #amqp: AmqpConnection;
  readonly #ownsAmqp: boolean;
  readonly #logger: TxboxLogger;
  readonly #registry = new MessageRegistry();
  readonly #handlers = new Map<string, MessageHandler>();
  readonly #classify: (error: unknown) => 'retry' | 'dead-letter';
  readonly #dataSource: DataSourceLike | undefined;
  readonly #outbox: OutboxWriter | undefined;
  readonly #serializer: KeySerializer;
  readonly #delays: number[];
  readonly #prefetch: number;
  readonly #batchSize: number;
  readonly #pending: Delivery[] = [];
  #flushScheduled = false;
  #needsReconnect = false;
  readonly #lifecycle = new Lifecycle('inbox consumer');
  /** The dedup insert, prepared once per connection (it runs for every delivery). */
  readonly #recordStatement: { text: string; name: string };
  #channel: ConfirmChannel | undefined;
  #consumerTag: string | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stopRetention: () => void = () => {};
  #reconnectFailures = 0;
  readonly #counters = { processed: 0, duplicatesSkipped: 0, retried: 0, deadLettered: 0, discarded: 0 };
  readonly #durations = { total: 0, count: 0, max: 0 };

  constructor(options: InboxConsumerOptions) {
    if (!options || typeof options !== 'object') throw new ConfigurationError('inbox', 'options are required');
    this.#options = parseOptions(optionsSchema, options, 'inbox');
    this.group = this.#options.group;
    this.#tables = inboxTables(this.#options.schema);
    const recordText = recordDeliverySql(this.#tables);
    this.#recordStatement = { text: recordText, name: statementName(recordText) };
    this.#logger = options.logger ?? silentLogger;
    this.#classify = options.classifyError ?? defaultClassifyError;
    this.#dataSource = options.dataSource;
    if (this.#dataSource && typeof this.#dataSource.createQueryRunner !== 'function') {
      throw new ConfigurationError('inbox.dataSource', 'expected a TypeORM DataSource');
    }
    // TypeORM's postgres driver keeps its pg pool in driver.master: guard its clients too.
    const typeOrmPool = (this.#dataSource as { driver?: { master?: unknown } } | undefined)?.driver?.master;
    if (typeOrmPool && typeof (typeOrmPool as { on?: unknown }).on === 'function') guardPool(typeOrmPool as pg.Pool);
    this.#outbox = options.outbox;
    const retry = this.#options.retry;
    this.#delays = retry.delaysMs ?? exponentialDelays(retry.maxAttempts - 1, retry.baseDelayMs, 2, retry.maxDelayMs);
    this.#serializer = new KeySerializer(this.#options.concurrency);
    this.#batchSize = this.#options.batch.maxMessages;
    // Enough deliveries in flight to fill a batch for every concurrent transaction.
    this.#prefetch = this.#options.prefetch ?? this.#options.concurrency * Math.max(4, this.#batchSize);
    for (const registration of options.handlers ?? []) this.handle(registration.contract, registration.handle);
    // The pool serves one transaction per running handler, plus retention and stats.
    this.#db = resolvePool(options.database, {
      max: this.#options.concurrency + 2,
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
  }

  /** The group's queue, delay queues, dead-letter queue and bindings (see the naming rule). */
  get topology(): GroupTopology {
    this.#topology ??= groupTopology({
      group: this.group,
      exchange: this.#options.exchange,
      names: this.#names,
      retryDelaysMs: this.#delays,
      bindings: this.#options.bindings ?? [...this.#handlers.keys()],
      queueType: this.#options.queueType,
      deliveryLimit: this.#options.deliveryLimit,
      singleActiveConsumer: this.#options.singleActiveConsumer,
    });
    return this.#topology;
  }

  /**
   * Registers the handler of a contract (and, through its upcasters, of its older versions).
   * Call before `start()`.
   */
  handle<C extends AnyMessageContract>(contract: C, handler: MessageHandler<C>): this {
    if (this.#lifecycle.state !== 'new')
      throw new ConfigurationError('inbox.handlers', 'register handlers before start()');
    if (!isMessageContract(contract)) throw new ConfigurationError('inbox.handlers', 'expected a message contract');
    if (typeof handler !== 'function')
      throw new ConfigurationError('inbox.handlers', `handler of ${contract.type} must be a function`);
    if (this.#handlers.has(contract.type)) {
      throw new ConfigurationError('inbox.handlers', `${contract.type} already has a handler in group ${this.group}`);
    }
    this.#registry.register(contract);
    if (this.#registry.latest(contract.type) !== contract) {
      throw new ConfigurationError(
        'inbox.handlers',
        `register the newest version of ${contract.type}; handlers receive payloads upcast to it`,
      );
    }
    this.#handlers.set(contract.type, handler as MessageHandler);
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
      if (this.#handlers.size === 0) {
        throw new ConfigurationError('inbox.handlers', `group ${this.group} has no handlers; register at least one`);
      }
      await assertSchemaReady(this.#db, inboxMigrations, this.#options.schema);
      try {
        await this.#connect();
      } catch (error) {
        // Refused credentials are a configuration error: fail start() with it.
        if (isTxboxError(error) && error.code === 'CONNECTION_FAILED' && !error.retryable) throw error;
        // The broker is down or unreachable: do not hold up the application's startup (its
        // API and outbox writes work without RabbitMQ). Keep trying in the background;
        // stats().connected and the logs say so.
        this.#logger.error('Inbox consumer cannot reach RabbitMQ yet; retrying in the background', {
          group: this.group,
          url: this.#amqp.safeUrl,
          error: (error as Error).message,
        });
        this.#needsReconnect = true;
      }
      if (this.#needsReconnect) queueMicrotask(() => this.#scheduleReconnect());
      this.#stopRetention = every(
        this.#options.retention.intervalMs,
        () => this.cleanup(),
        (error) => this.#logger.warn('Inbox retention failed', { error: (error as Error).message }),
      );
      this.#logger.info('Inbox consumer started', { group: this.group, queue: this.topology.queue });
    });
  }

  /**
   * Cancels consuming, waits for running handlers (up to `stopTimeoutMs`) so their acks are
   * sent, then closes the channel (unacknowledged deliveries return to the queue) and what
   * the consumer opened. Idempotent.
   */
  async stop(): Promise<void> {
    return this.#lifecycle.stop(async () => {
      if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
      this.#stopRetention();
      const channel = this.#channel;
      // Each broker round trip is bounded: a broker that stopped answering must not hang stop().
      if (channel && this.#consumerTag) await settlesWithin(channel.cancel(this.#consumerTag), 2000);
      const idle = this.#serializer.idle();
      const finished = await Promise.race([
        idle.then(() => true),
        sleep(this.#options.stopTimeoutMs).then(() => false),
      ]);
      if (!finished) {
        this.#logger.warn('Inbox stop timed out with handlers still running; their messages will be redelivered', {
          group: this.group,
          inFlight: this.#serializer.size,
        });
      }
      this.#channel = undefined;
      if (channel) await settlesWithin(channel.close(), 2000);
      if (this.#ownsAmqp) await this.#amqp.close();
      if (!finished) await Promise.race([idle, sleep(1000)]);
      if (this.#db.owned) await Promise.race([this.#db.pool.end().catch(() => {}), sleep(2000)]);
      this.#logger.info('Inbox consumer stopped', { group: this.group });
    });
  }

  async stats(): Promise<InboxStats> {
    const { rows } = await queryPool<{ records: number; oldest_record_age_ms: number }>(
      this.#db.pool,
      inboxStatsSql(this.#tables),
      [this.group],
    );
    const row = rows[0] ?? { records: 0, oldest_record_age_ms: 0 };
    return {
      group: this.group,
      ...this.#counters,
      inFlight: this.#serializer.size,
      handlerDurationMs: {
        mean: this.#durations.count === 0 ? 0 : this.#durations.total / this.#durations.count,
        max: this.#durations.max,
      },
      records: row.records,
      oldestRecordAgeMs: Math.round(row.oldest_record_age_ms),
      retentionMs: this.#options.retention.processedMs,
      connected: this.#channel !== undefined,
    };
  }

  /** Deletes this group's inbox records older than the retention window, in small batches. */
  async cleanup(): Promise<{ deleted: number }> {
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

  async #connect(): Promise<void> {
    // One attempt: retries are #scheduleReconnect's timer, which stop() can cancel.
    const model = await this.#amqp.channelModel({ retry: false });
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => {
      this.#logger.warn('Inbox channel error', { group: this.group, error: error.message });
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#consumerTag = undefined;
      if (!this.#lifecycle.isStopping) {
        inboxChannels.error.publish({ group: this.group, error: new Error('channel closed') });
        this.#logger.warn('Inbox channel closed; reconnecting', { group: this.group });
        this.#scheduleReconnect();
      }
    });
    try {
      await declareTopology(channel, this.topology);
      await channel.prefetch(this.#prefetch);
      if (this.#lifecycle.isStopping) {
        // stop() ran while this (re)connect was under way: do not start consuming.
        await settlesWithin(channel.close(), 2000);
        return;
      }
      this.#channel = channel;
      const { consumerTag } = await channel.consume(this.topology.queue, (message) => {
        if (message) {
          this.#onDelivery(channel, message);
          return;
        }
        // null: the broker cancelled the consumer (queue deleted, node failover). Consuming
        // would silently stop: drop the channel and come back through the reconnect path.
        this.#logger.warn('RabbitMQ cancelled the inbox consumer; re-declaring and resuming', { group: this.group });
        channel.close().catch(() => {});
      });
      this.#consumerTag = consumerTag;
      this.#reconnectFailures = 0;
    } catch (error) {
      this.#channel = undefined;
      await channel.close().catch(() => {});
      throw error;
    }
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer || this.#lifecycle.isStopping) return;
    this.#reconnectFailures += 1;
    const delay = Math.min(10_000, 100 * 2 ** Math.min(this.#reconnectFailures, 7));
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#lifecycle.isStopping) return;
      this.#connect().catch((error: unknown) => {
        if (this.#lifecycle.isStopping) return;
        inboxChannels.error.publish({ group: this.group, error });
        this.#logger.warn('Inbox reconnect failed; retrying', { group: this.group, error: (error as Error).message });
        this.#scheduleReconnect();
      });
    }, delay);
  }

  #onDelivery(channel: ConfirmChannel, message: ConsumeMessage): void {
    let envelope: Envelope | undefined;
    let decodeError: unknown;
    try {
      envelope = decodeAmqpMessage(message);
    } catch (error) {
      decodeError = error;
    }
    const delivery: Delivery = { channel, message, envelope, decodeError };
    if (this.#batchSize === 1) {
      // Serialize per ordering key, in delivery order; undecodable messages have no key.
      void this.#serializer.submit(envelope?.key ?? null, () => this.#process(delivery));
      return;
    }
    this.#pending.push(delivery);
    if (this.#pending.length >= this.#batchSize) this.#flush();
    else if (!this.#flushScheduled) {
      // Deliveries that arrive together (one socket read) are batched together; waiting
      // longer is opt-in (batch.maxWaitMs), since it adds that much latency.
      this.#flushScheduled = true;
      const wait = this.#options.batch.maxWaitMs;
      if (wait > 0) setTimeout(() => this.#flush(), wait);
      else setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending.splice(0, this.#pending.length);
    if (batch.length === 0) return;
    // A batch waits for every earlier task holding one of its keys, so keys keep delivery order.
    const keys = [...new Set(batch.map((d) => d.envelope?.key).filter((k): k is string => typeof k === 'string'))];
    void this.#serializer.submit(keys, () => this.#processBatch(batch));
  }

  /**
   * What can be decided without the database: dead-letter malformed, unknown and invalid
   * messages at once (waiting never fixes them), or hand back a message ready to handle.
   */
  async #triage(delivery: Delivery): Promise<ReadyDelivery | undefined> {
    const { channel, message, envelope } = delivery;
    const attempt = attemptOf(message);
    const event: InboxMessageEvent = { group: this.group, id: envelope?.id, type: envelope?.type, attempt };
    if (this.#channel !== channel) {
      // Its channel is gone (connection lost while it waited for its turn): the broker has
      // already requeued it, so running the handler now would only duplicate the work.
      return undefined;
    }
    if (!envelope) {
      await this.#deadLetter(channel, message, 'malformed', delivery.decodeError, event);
      return undefined;
    }
    const handler = this.#handlers.get(envelope.type);
    if (!handler) {
      if (this.#options.onUnknownType === 'discard') {
        safeAck(channel, message);
        this.#counters.discarded += 1;
        return undefined;
      }
      const error = new TxboxError(
        'CONTRACT_UNKNOWN',
        `Group ${this.group} has no handler for type "${envelope.type}"`,
      );
      await this.#deadLetter(channel, message, 'unknown type', error, event);
      return undefined;
    }
    try {
      const resolved = this.#registry.resolve(envelope.type, envelope.version, envelope.payload);
      return { ...delivery, typed: { ...envelope, payload: resolved.payload }, handler, attempt, event };
    } catch (error) {
      const reason = isTxboxError(error) && error.code === 'CONTRACT_UNKNOWN' ? 'unknown version' : 'invalid payload';
      await this.#deadLetter(channel, message, reason, error, event);
      return undefined;
    }
  }

  async #process(delivery: Delivery): Promise<void> {
    let ready: ReadyDelivery | undefined;
    try {
      ready = await this.#triage(delivery);
    } catch (error) {
      this.#settleFailed(delivery, error);
    }
    if (ready) await this.#processReady(ready);
  }

  /** One triaged delivery in a transaction of its own. */
  async #processReady(ready: ReadyDelivery): Promise<void> {
    if (this.#channel !== ready.channel) return; // its channel died meanwhile: already requeued
    try {
      const started = performance.now();
      const outcome = await this.#runInTransaction(ready);
      await this.#settle(ready, outcome, performance.now() - started);
    } catch (error) {
      this.#settleFailed(ready, error);
    }
  }

  /**
   * Several deliveries in one transaction: each handler runs inside a savepoint, so a failing
   * handler rolls back only its own writes (and its inbox record), and the rest commit
   * together — one commit, one fsync, for the whole batch. Acks are sent after the commit.
   * If the transaction itself fails (connection lost, deadlock between concurrent batches,
   * commit error) every delivery is processed again on its own.
   */
  async #processBatch(batch: Delivery[]): Promise<void> {
    const ready: ReadyDelivery[] = [];
    for (const delivery of batch) {
      try {
        const r = await this.#triage(delivery);
        if (r) ready.push(r);
      } catch (error) {
        this.#settleFailed(delivery, error);
      }
    }
    if (ready.length === 0) return;
    if (ready.length === 1) {
      await this.#processReady(ready[0] as ReadyDelivery);
      return;
    }
    const started = performance.now();
    let outcomes: Outcome[] | undefined;
    let session: HandlerSession | undefined;
    let broken = false;
    try {
      session = await this.#openSession();
      // One statement records the whole batch and tells the first deliveries from duplicates.
      const { rows } = await session.transaction.query<{ message_id: string }>(recordDeliveriesSql(this.#tables), [
        this.group,
        ready.map((r) => r.typed.id),
        ready.map((r) => r.typed.type),
        ready.map((r) => r.typed.version),
        ready.map((r) => r.attempt),
      ]);
      const firstDeliveries = new Set(rows.map((r) => r.message_id));
      const results: Outcome[] = [];
      for (const item of ready) {
        if (!firstDeliveries.delete(item.typed.id)) {
          results.push({ kind: 'duplicate' });
          continue;
        }
        // Not released on success: one round trip less per message. A later SAVEPOINT of
        // the same name shadows it, and ROLLBACK TO goes back to the newest one.
        await session.transaction.query('SAVEPOINT txbox_delivery');
        try {
          await this.#runHandler(session, item);
          results.push({ kind: 'processed' });
        } catch (error) {
          await session.transaction.query('ROLLBACK TO SAVEPOINT txbox_delivery');
          // Its record was written before the savepoint: remove it, so a retry runs the handler.
          await session.transaction.query(forgetDeliverySql(this.#tables), [this.group, item.typed.id]);
          results.push(this.#failure(error));
        }
      }
      await session.commit();
      outcomes = results;
    } catch (error) {
      if (session) {
        try {
          await session.rollback();
        } catch {
          broken = true;
        }
      }
      this.#logger.warn('Inbox batch transaction failed; processing its messages one by one', {
        group: this.group,
        size: ready.length,
        error: (error as Error).message,
      });
    } finally {
      await session?.release(broken).catch(() => {});
    }
    if (!outcomes) {
      for (const item of ready) await this.#processReady(item);
      return;
    }
    const perMessageMs = (performance.now() - started) / ready.length;
    for (let i = 0; i < ready.length; i++) {
      const item = ready[i] as ReadyDelivery;
      try {
        await this.#settle(item, outcomes[i] as Outcome, perMessageMs);
      } catch (error) {
        this.#settleFailed(item, error);
      }
    }
  }

  /** Acks, counts and reports a handled delivery, or routes a failed one to retry or dead letter. */
  async #settle(item: ReadyDelivery, outcome: Outcome, durationMs: number): Promise<void> {
    const { channel, message, attempt, event } = item;
    if (outcome.kind === 'duplicate') {
      safeAck(channel, message);
      this.#counters.duplicatesSkipped += 1;
      inboxChannels.duplicate.publish(event);
      return;
    }
    if (outcome.kind === 'processed') {
      safeAck(channel, message);
      this.#counters.processed += 1;
      this.#durations.total += durationMs;
      this.#durations.count += 1;
      this.#durations.max = Math.max(this.#durations.max, durationMs);
      inboxChannels.processed.publish({ ...event, durationMs });
      return;
    }
    if (outcome.retry && attempt <= this.#delays.length) {
      await this.#retry(channel, message, attempt, outcome.error, event);
    } else {
      const reason = outcome.retry ? 'retries exhausted' : outcome.reason;
      await this.#deadLetter(channel, message, reason, outcome.error, event);
    }
  }

  /** Publishing a retry or dead letter failed (channel lost): leave the delivery unacknowledged; the broker redelivers it. */
  #settleFailed(delivery: Delivery, error: unknown): void {
    inboxChannels.error.publish({ group: this.group, error });
    this.#logger.warn('Inbox could not settle a delivery; it will be redelivered', {
      group: this.group,
      id: delivery.envelope?.id,
      error: (error as Error).message,
    });
  }

  async #openSession(): Promise<HandlerSession> {
    return this.#dataSource ? openTypeOrmSession(this.#dataSource) : openPgSession(this.#db.pool);
  }

  /** Records the delivery and, unless it is a duplicate, runs the handler — inside `session`. */
  async #applyInSession(session: HandlerSession, item: ReadyDelivery): Promise<Outcome> {
    const { typed: envelope, attempt } = item;
    const { rows } = await session.transaction.query(
      this.#recordStatement.text,
      [this.group, envelope.id, envelope.type, envelope.version, attempt, new Date()],
      { name: this.#recordStatement.name },
    );
    if (rows.length === 0) return { kind: 'duplicate' };
    await this.#runHandler(session, item);
    return { kind: 'processed' };
  }

  async #runHandler(session: HandlerSession, item: ReadyDelivery): Promise<void> {
    const { typed: envelope, handler, attempt } = item;
    const context: HandlerContext = {
      envelope,
      group: this.group,
      attempt,
      client: session.client,
      manager: session.manager,
      transaction: session.transaction,
      outbox: this.#bindOutbox(session, envelope),
    };
    await handler(envelope.payload as never, context as never);
  }

  #failure(error: unknown): Outcome {
    return { kind: 'failed', error, retry: this.#classify(error) === 'retry', reason: 'not retryable' };
  }

  async #runInTransaction(item: ReadyDelivery): Promise<Outcome> {
    let session: HandlerSession;
    try {
      session = await this.#openSession();
    } catch (error) {
      // The database is unreachable: not the message's fault. Retry through the delay steps.
      return { kind: 'failed', error, retry: true, reason: 'database unavailable' };
    }
    let broken = false;
    try {
      const outcome = await this.#applyInSession(session, item);
      await session.commit();
      return outcome;
    } catch (error) {
      try {
        await session.rollback();
      } catch {
        broken = true;
      }
      return this.#failure(error);
    } finally {
      await session.release(broken).catch(() => {});
    }
  }

  #bindOutbox(session: HandlerSession, envelope: Envelope): BoundOutbox {
    const writer = this.#outbox;
    const add = (input: OutgoingMessage | readonly OutgoingMessage[]) => {
      if (!writer) {
        throw new ConfigurationError('inbox.outbox', 'pass an outbox writer to the consumer to use context.outbox');
      }
      if (Array.isArray(input)) {
        return writer.add(
          session.transaction,
          input.map((m) => causedBy(envelope, m)),
        );
      }
      return writer.add(session.transaction, causedBy(envelope, input as OutgoingMessage));
    };
    return { add } as BoundOutbox;
  }

  async #retry(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    attempt: number,
    error: unknown,
    event: InboxMessageEvent,
  ) {
    const delay = this.topology.delayQueues[attempt - 1] as { name: string; delayMs: number };
    const headers = this.#copyHeaders(message, attempt, error);
    headers[INBOX_HEADERS.attempt] = attempt + 1;
    await publishConfirmed(channel, delay.name, message, headers);
    safeAck(channel, message);
    this.#counters.retried += 1;
    inboxChannels.retried.publish({ ...event, delayMs: delay.delayMs, error: describe(error) });
    this.#logger.info('Inbox handler failed; retrying later', {
      group: this.group,
      id: event.id,
      attempt,
      delayMs: delay.delayMs,
      error: describe(error),
    });
  }

  async #deadLetter(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    reason: string,
    error: unknown,
    event: InboxMessageEvent,
  ) {
    const headers = this.#copyHeaders(message, event.attempt, error);
    headers[INBOX_HEADERS.reason] = reason;
    headers[INBOX_HEADERS.error] = describe(error).slice(0, 4000);
    headers[INBOX_HEADERS.group] = this.group;
    await publishConfirmed(channel, this.topology.deadLetterQueue, message, headers);
    safeAck(channel, message);
    this.#counters.deadLettered += 1;
    inboxChannels.deadLettered.publish({ ...event, reason, error: describe(error) });
    this.#logger.warn('Inbox message dead-lettered', {
      group: this.group,
      id: event.id,
      reason,
      error: describe(error),
    });
  }

  /** Headers for a retried or dead-lettered copy: the original's, plus this attempt in the history. */
  #copyHeaders(message: ConsumeMessage, attempt: number, error: unknown): Record<string, unknown> {
    const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
    // The broker's x-death grows with every pass through a delay queue; our history replaces it.
    delete headers['x-death'];
    delete headers['x-first-death-exchange'];
    delete headers['x-first-death-queue'];
    delete headers['x-first-death-reason'];
    delete headers['x-last-death-exchange'];
    delete headers['x-last-death-queue'];
    delete headers['x-last-death-reason'];
    const history = parseHistory(headers[INBOX_HEADERS.history]);
    history.push({ attempt, at: new Date().toISOString(), error: describe(error).slice(0, 1000) });
    headers[INBOX_HEADERS.history] = JSON.stringify(history);
    headers[INBOX_HEADERS.attempt] = attempt;
    // After a pass through a delay queue the delivery's exchange is '' and its routing key the
    // queue name: keep where the message first came from.
    headers[INBOX_HEADERS.originalExchange] ??= message.fields.exchange;
    headers[INBOX_HEADERS.originalRoutingKey] ??= message.fields.routingKey;
    return headers;
  }
}

function defaultClassifyError(error: unknown): 'retry' | 'dead-letter' {
  if (isTxboxError(error) && !error.retryable) return 'dead-letter';
  return 'retry';
}

function attemptOf(message: ConsumeMessage): number {
  const raw = message.properties.headers?.[INBOX_HEADERS.attempt];
  const n = typeof raw === 'number' ? raw : Number(raw);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

function parseHistory(raw: unknown): AttemptRecord[] {
  if (raw === undefined || raw === null) return [];
  try {
    const parsed = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw));
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function safeAck(channel: ConfirmChannel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed after commit: the broker redelivers, and the inbox skips the duplicate.
  }
}

async function publishConfirmed(
  channel: ConfirmChannel,
  queue: string,
  message: ConsumeMessage,
  headers: Record<string, unknown>,
): Promise<void> {
  const { properties } = message;
  const options: Options.Publish = {
    headers,
    persistent: true,
    contentType: properties.contentType,
    contentEncoding: properties.contentEncoding,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    type: properties.type,
    timestamp: properties.timestamp,
    appId: properties.appId,
  };
  await new Promise<void>((resolve, reject) => {
    channel.sendToQueue(queue, message.content, options, (err: unknown) =>
      err ? reject(new TxboxError('PUBLISH_FAILED', `RabbitMQ did not confirm the copy to ${queue}`)) : resolve(),
    );
  });
}

/** Creates an {@link InboxConsumer}. */
export function createConsumer(options: InboxConsumerOptions): InboxConsumer {
  return new InboxConsumer(options);
}
