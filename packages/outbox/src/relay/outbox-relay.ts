import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type AmqpConnection,
  assertSchemaReady,
  ConfigurationError,
  checkOut,
  type DatabaseInput,
  every,
  Lifecycle,
  type OwnedPool,
  parseOptions,
  queryPool,
  resolveAmqpConnection,
  resolvePool,
  silentLogger,
  sleep,
  statementName,
  TxboxError,
  type TxboxLogger,
} from '@txbox/core';
import pRetry from 'p-retry';
import { z } from 'zod';
import { DeadLetters } from '../dead-letters/dead-letters.js';
import { outboxChannels, type RelayBatchEvent } from '../diagnostics/outbox-diagnostics.js';
import { outboxMigrations } from '../migrations/outbox-migrations.js';
import { type CleanupResult, cleanupOutbox } from '../retention/cleanup.js';
import {
  claimBatchSql,
  claimLockSql,
  deadLetterSql,
  deletePublishedSql,
  markPublishedSql,
  releaseLeasesSql,
  scheduleRetriesSql,
} from '../sql/outbox-sql.js';
import { type OutboxTables, outboxTables } from '../sql/outbox-tables.js';
import { type OutboxStats, readOutboxStats } from '../stats/stats.js';
import { ConfirmPublisher, type PublishItem, type PublishOutcome } from './confirm-publisher.js';
import { encodeOutboxRow } from './encode-outbox-row.js';
import { NotifyListener } from './notify-listener.js';
import { defaultRetryStrategy, type RetryStrategy } from './retry-strategy.js';

export interface OutboxRelayOptions {
  /** PostgreSQL: a connection string (the relay owns its pool) or a `pg.Pool` (borrowed, never ended). */
  database: DatabaseInput;
  /** RabbitMQ: an amqp:// URL (the relay owns the connection) or a shared {@link AmqpConnection}. */
  amqp: string | AmqpConnection;
  /** Schema of the outbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** Identifies this relay in leases and logs. @defaultValue `<hostname>:<pid>:<random>` */
  relayId?: string;
  /** Most messages claimed and published per batch. @defaultValue `200` */
  batchSize?: number;
  /** How often to look for due messages when no NOTIFY arrives. @defaultValue `1000` */
  pollIntervalMs?: number;
  /** How long a claim is held; after it, another relay may publish the messages. @defaultValue `30000` */
  leaseMs?: number;
  /** Batches publishing at once per relay (the next is claimed while earlier ones await confirms). @defaultValue `2` */
  maxInFlightBatches?: number;
  /** Longest wait for broker confirms of a batch; must be below `leaseMs`. @defaultValue `10000` */
  publishTimeoutMs?: number;
  /** LISTEN for commits to wake at once. @defaultValue `true` */
  listen?: boolean;
  /** Declare each exchange (durable topic) before the first publish to it. @defaultValue `true` */
  declareExchanges?: boolean;
  /**
   * What to do when the broker returns a message no queue is bound for:
   * `'retry'` (back off and try again, dead-letter when the retry budget is spent),
   * `'dead-letter'` (at once) or `'discard'` (count it as published).
   * @defaultValue `'retry'`
   */
  onUnroutable?: 'retry' | 'dead-letter' | 'discard';
  /** Failed publishes: when to retry and when to dead-letter. @defaultValue `defaultRetryStrategy()` */
  retryStrategy?: RetryStrategy;
  /**
   * After confirm: `'delete'` the row, or `'keep'` it with `published_at` set (an audit
   * trail, removed by retention after `retention.publishedMs`). @defaultValue `'delete'`
   */
  published?: 'delete' | 'keep';
  retention?: {
    /** Age after which kept published rows are deleted. @defaultValue `604800000` (7 days) */
    publishedMs?: number;
    /** Age after which dead letters are deleted; `null` keeps them until purged. @defaultValue `null` */
    deadLettersMs?: number | null;
    /** How often the relay runs cleanup; `0` disables it. @defaultValue `60000` */
    intervalMs?: number;
    /** Rows deleted per statement, keeping locks short. @defaultValue `1000` */
    batchSize?: number;
  };
  /** How long `stop()` waits for an in-flight batch before releasing its leases. @defaultValue `10000` */
  stopTimeoutMs?: number;
  logger?: TxboxLogger;
}

const optionsSchema = z
  .object({
    schema: z.string().default('txbox'),
    relayId: z.string().min(1).max(200).optional(),
    batchSize: z.number().int().min(1).max(10_000).default(200),
    pollIntervalMs: z.number().int().min(10).max(3_600_000).default(1000),
    leaseMs: z.number().int().min(1000).max(86_400_000).default(30_000),
    publishTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
    maxInFlightBatches: z.number().int().min(1).max(16).default(2),
    listen: z.boolean().default(true),
    declareExchanges: z.boolean().default(true),
    onUnroutable: z.enum(['retry', 'dead-letter', 'discard']).default('retry'),
    published: z.enum(['delete', 'keep']).default('delete'),
    retention: z
      .object({
        publishedMs: z
          .number()
          .int()
          .min(0)
          .default(7 * 24 * 3600 * 1000),
        deadLettersMs: z.number().int().min(0).nullable().default(null),
        intervalMs: z.number().int().min(0).default(60_000),
        batchSize: z.number().int().min(1).max(100_000).default(1000),
      })
      .default({ publishedMs: 7 * 24 * 3600 * 1000, deadLettersMs: null, intervalMs: 60_000, batchSize: 1000 }),
    stopTimeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
  })
  .refine((o) => o.publishTimeoutMs < o.leaseMs, {
    message: 'must be lower than leaseMs, or a slow publish would outlive its lease',
    path: ['publishTimeoutMs'],
  });

interface ClaimedRow {
  seq: string;
  id: string;
  type: string;
  version: number;
  ordering_key: string | null;
  exchange: string;
  routing_key: string;
  payload: string;
  headers: Record<string, string>;
  correlation_id: string | null;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  occurred_at: Date;
  attempts: number;
  lease_token: string;
}

/** What one batch did. */
export interface RelayBatchResult {
  claimed: number;
  published: number;
  retried: number;
  deadLettered: number;
  unroutable: number;
}

/**
 * Publishes committed outbox messages to RabbitMQ. Run one or many (any number of processes):
 * they share the work through leases, and per-key order holds across all of them.
 */
export class OutboxRelay {
  readonly relayId: string;
  readonly deadLetters: DeadLetters;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #tables: OutboxTables;
  readonly #db: OwnedPool;
  readonly #amqp: AmqpConnection;
  readonly #ownsAmqp: boolean;
  readonly #logger: TxboxLogger;
  readonly #retry: RetryStrategy;
  readonly #publisher: ConfirmPublisher;
  readonly #listener: NotifyListener | undefined;
  readonly #lifecycle = new Lifecycle('relay');
  /** Prepared once per connection: the claim is the relay's hottest statement. */
  readonly #claimStatement: { text: string; name: string };
  /** Deletes (or marks) confirmed rows: once per batch. */
  readonly #markStatement: { text: string; name: string };
  #signalStop: () => void = () => {};
  readonly #stopRequested = new Promise<void>((resolve) => {
    this.#signalStop = resolve;
  });
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #wakeRequested = false;
  #stopCleanup: () => void = () => {};
  /** Lease tokens of batches claimed but not yet settled, released on stop. */
  readonly #inFlightTokens = new Set<string>();

  constructor(options: OutboxRelayOptions) {
    if (!options || typeof options !== 'object') throw new ConfigurationError('relay', 'options are required');
    this.#options = parseOptions(optionsSchema, options, 'relay');
    this.#tables = outboxTables(this.#options.schema);
    const claimText = claimBatchSql(this.#tables);
    this.#claimStatement = { text: claimText, name: statementName(claimText) };
    const markText =
      this.#options.published === 'delete' ? deletePublishedSql(this.#tables) : markPublishedSql(this.#tables);
    this.#markStatement = { text: markText, name: statementName(markText) };
    this.relayId = this.#options.relayId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#logger = options.logger ?? silentLogger;
    this.#retry = options.retryStrategy ?? defaultRetryStrategy();
    if (typeof this.#retry !== 'function') throw new ConfigurationError('relay.retryStrategy', 'must be a function');
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
    if (this.#options.listen) {
      this.#listener = new NotifyListener({
        clientConfig: this.#db.clientConfig,
        channel: this.#tables.notifyChannelName,
        onWake: () => this.#requestWake(),
        logger: this.#logger,
      });
    }
    this.deadLetters = new DeadLetters(this.#db.pool, this.#tables);
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
      this.#loop = this.#runLoop();
      this.#stopCleanup = every(
        this.#options.retention.intervalMs,
        () => this.cleanup(),
        (error) => this.#logger.warn('Outbox cleanup failed', { error: (error as Error).message }),
      );
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
      this.#signalStop();
      this.#requestWake();
      const loop = this.#loop ?? Promise.resolve();
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
      await this.#releaseLeases();
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
    return this.#runBatch();
  }

  /** Counts of pending, due and leased messages, dead letters, and the age of the oldest due one. */
  async stats(): Promise<OutboxStats> {
    return readOutboxStats(this.#db.pool, this.#tables);
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

  #requestWake(): void {
    this.#wakeRequested = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits for a NOTIFY, a stop, or the poll interval. */
  async #waitForWork(ms = this.#options.pollIntervalMs): Promise<void> {
    if (this.#wakeRequested) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #runLoop(): Promise<void> {
    let failures = 0;
    // Claiming batch n+1 while batch n waits for confirms keeps both PostgreSQL and RabbitMQ
    // busy. Per-key order still holds: batch n's messages are leased, so no newer message
    // of their keys can be claimed until they are settled.
    const inFlight = new Set<Promise<void>>();
    while (!this.#lifecycle.isStopping) {
      try {
        if (this.#amqp.isBlocked) {
          // RabbitMQ is refusing publishes (resource alarm): claiming would only burn leases.
          await this.#waitForWork();
          this.#wakeRequested = false;
          continue;
        }
        await this.#publisher.ready();
        failures = 0; // connected: the next failure starts a fresh backoff
        while (inFlight.size >= this.#options.maxInFlightBatches) await Promise.race(inFlight);
        if (this.#lifecycle.isStopping) break;
        this.#wakeRequested = false;
        const started = performance.now();
        const rows = await this.#claim();
        failures = 0;
        if (rows.length > 0) {
          const task: Promise<void> = this.#publishAndSettle(rows, started)
            .then(
              () => undefined,
              (error: unknown) => this.#reportLoopError(error, 0),
            )
            .finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
        if (rows.length < this.#options.batchSize) await this.#waitForWork();
      } catch (error) {
        if (this.#lifecycle.isStopping) break;
        failures += 1;
        this.#reportLoopError(error, failures);
        // Backoff that stop() cuts short (NOTIFYs do not: a broker outage under load would
        // otherwise turn every commit into a connection attempt).
        // Capped at 5 s so the relay resumes within seconds of the broker or database coming back.
        await Promise.race([sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6))), this.#stopRequested]);
      }
    }
    await Promise.allSettled(inFlight);
  }

  #reportLoopError(error: unknown, failures: number): void {
    outboxChannels.error.publish({ relayId: this.relayId, error });
    this.#logger.error('Outbox relay error; it keeps running', { error: (error as Error).message, failures });
  }

  async #runBatch(): Promise<RelayBatchResult> {
    const started = performance.now();
    return this.#publishAndSettle(await this.#claim(), started);
  }

  async #publishAndSettle(rows: ClaimedRow[], started: number): Promise<RelayBatchResult> {
    const result: RelayBatchResult = { claimed: rows.length, published: 0, retried: 0, deadLettered: 0, unroutable: 0 };
    if (rows.length === 0) return result;
    const token = rows[0]?.lease_token as string;
    this.#inFlightTokens.add(token);
    try {
      const outcomes = await this.#publisher.publishBatch(rows.map(toPublishItem));
      await this.#settle(rows, outcomes, token, result);
    } finally {
      this.#inFlightTokens.delete(token);
    }
    const event: RelayBatchEvent = { relayId: this.relayId, ...result, durationMs: performance.now() - started };
    outboxChannels.batch.publish(event);
    return result;
  }

  async #claim(): Promise<ClaimedRow[]> {
    const { client, release } = await checkOut(this.#db.pool);
    let broken = false;
    try {
      await client.query(`BEGIN; ${claimLockSql(this.#tables)}`);
      const { rows } = await client.query<ClaimedRow>({
        name: this.#claimStatement.name,
        text: this.#claimStatement.text,
        values: [this.#options.batchSize, this.relayId, this.#options.leaseMs],
      });
      // If COMMIT's reply is lost the claim may still have committed: those leases simply
      // expire and the messages are claimed again.
      await client.query('COMMIT');
      return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true; // the connection is unusable: do not return it to the pool
      });
      throw error;
    } finally {
      release(broken);
    }
  }

  async #settle(rows: ClaimedRow[], outcomes: PublishOutcome[], token: string, result: RelayBatchResult) {
    const published: string[] = [];
    const retries: { seq: string; delay_ms: number; error: string; entry: object }[] = [];
    const deadLetters: { seq: string; error: string; entry: object; reason: string; row: ClaimedRow }[] = [];
    const now = new Date().toISOString();
    rows.forEach((row, i) => {
      const outcome = outcomes[i] as PublishOutcome;
      if (outcome.status === 'confirmed') {
        published.push(row.seq);
        return;
      }
      if (outcome.status === 'unroutable') {
        result.unroutable += 1;
        if (this.#options.onUnroutable === 'discard') {
          published.push(row.seq);
          return;
        }
      }
      const error =
        outcome.status === 'unroutable'
          ? new TxboxError(
              'PUBLISH_UNROUTABLE',
              `No queue is bound to exchange "${row.exchange}" for routing key "${row.routing_key}"`,
              { retryable: this.#options.onUnroutable === 'retry' },
            )
          : outcome.error;
      const attempt = row.attempts + 1;
      const decision = this.#retry({ attempt, error, retryable: error.retryable, type: row.type });
      const entry = { at: now, attempt, relayId: this.relayId, code: error.code, error: error.message };
      if (decision.retry) {
        retries.push({
          seq: row.seq,
          delay_ms: Math.max(0, Math.round(decision.delayMs)),
          error: error.message,
          entry,
        });
      } else {
        const reason = error.retryable
          ? 'retries exhausted'
          : error.code === 'PUBLISH_UNROUTABLE'
            ? 'unroutable'
            : 'not retryable';
        deadLetters.push({ seq: row.seq, error: error.message, entry, reason, row });
      }
    });

    // Marking must not be lost to a blip, or the batch is published again after the lease.
    const persist = <T>(fn: () => Promise<T>) => pRetry(fn, { retries: 3, minTimeout: 100, maxTimeout: 1000 });
    if (published.length > 0) {
      const { text, name } = this.#markStatement;
      const { rowCount } = await persist(() => queryPool(this.#db.pool, text, [published, token], { name }));
      result.published = published.length;
      if ((rowCount ?? 0) < published.length) this.#leaseLost(published.length, rowCount ?? 0);
    }
    if (retries.length > 0) {
      await persist(() => queryPool(this.#db.pool, scheduleRetriesSql(this.#tables), [JSON.stringify(retries), token]));
      result.retried = retries.length;
    }
    if (deadLetters.length > 0) {
      const payload = deadLetters.map(({ row: _row, ...rest }) => rest);
      await persist(() => queryPool(this.#db.pool, deadLetterSql(this.#tables), [JSON.stringify(payload), token]));
      result.deadLettered = deadLetters.length;
      for (const d of deadLetters) {
        outboxChannels.deadLettered.publish({
          relayId: this.relayId,
          id: d.row.id,
          type: d.row.type,
          reason: d.reason,
          error: d.error,
        });
        this.#logger.warn('Outbox message dead-lettered', { id: d.row.id, type: d.row.type, reason: d.reason });
      }
    }
  }

  #leaseLost(expected: number, settled: number): void {
    // Our lease expired and another relay re-claimed: it will publish again (the inbox
    // drops the duplicate). Usually means publishTimeoutMs/leaseMs are too tight.
    outboxChannels.leaseLost.publish({ relayId: this.relayId, expected, settled });
    this.#logger.warn('Outbox relay lost leases before marking messages published', {
      relayId: this.relayId,
      expected,
      settled,
    });
  }

  async #releaseLeases(): Promise<void> {
    if (this.#inFlightTokens.size === 0) return;
    const tokens = [...this.#inFlightTokens];
    try {
      await queryPool(this.#db.pool, releaseLeasesSql(this.#tables), [tokens]);
      this.#inFlightTokens.clear();
    } catch (error) {
      this.#logger.warn('Could not release outbox leases at stop; they expire after leaseMs', {
        error: (error as Error).message,
      });
    }
  }
}

function toPublishItem(row: ClaimedRow): PublishItem {
  return { ...encodeOutboxRow(row), exchange: row.exchange, routingKey: row.routing_key };
}

/** Creates an {@link OutboxRelay}. */
export function createRelay(options: OutboxRelayOptions): OutboxRelay {
  return new OutboxRelay(options);
}
