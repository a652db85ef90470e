// The consumer's options: the public interface (JSDoc for users, read by the README check) and
// the zod schema that is the only place a default value is written. Parsed once at construction;
// everything inside the consumer reads the resolved type.
import type { AmqpConnection, DatabaseInput, OutboxPort, SessionFactory, TxboxLogger } from '@txbox/core';
import { delayMsSchema, messageBytesSchema, retryPolicySchema } from '@txbox/core/internal';
import { z } from 'zod';
import type { DataSourceLike } from '../database/handler-session.js';
import type { HandlerRegistration } from '../handlers/handler.js';
import type { TopologyNames } from '../topology/topology.js';

export interface InboxConsumerOptions {
  /** Consumer group: one queue, one dedup scope. Every instance of a service uses the same group. */
  group: string;
  /** PostgreSQL: a connection string (the consumer owns a pool of `concurrency + 2`) or a `pg.Pool`. */
  database: DatabaseInput;
  /** RabbitMQ: an amqp:// URL or the URLs of a cluster's nodes (owned), or a shared {@link AmqpConnection}. */
  amqp: string | readonly string[] | AmqpConnection;
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
  /**
   * Quorum queues: broker-side cap on redeliveries of one message (crash loops). Not with `partitions`
   * (a hand-over returns fetched messages, which RabbitMQ counts as deliveries). @defaultValue none
   */
  deliveryLimit?: number;
  /**
   * Let only one instance of the group consume at a time (RabbitMQ single active consumer);
   * the others take over if it goes away. Turn it on when per-key order must hold across
   * several instances: with competing consumers each instance orders only what it receives.
   * @defaultValue `false`
   */
  singleActiveConsumer?: boolean;
  /**
   * Partitioned consumption: per-key order across many instances without giving up scale. The
   * group gets `count` partition queues (`<queue>.p0` …) fed by a consistent-hash exchange
   * (`<queue>.partitions`) on the ordering key, each consumed by one instance at a time; the
   * instances share the partitions among themselves (PostgreSQL advisory locks on the consumer's
   * database) and hand them over without reordering a key when one joins, leaves or dies. Needs the
   * broker plugin `rabbitmq_consistent_hash_exchange`. Excludes `singleActiveConsumer` (each partition
   * queue is single-active-consumer already). See the README's "Partitioned consumption".
   * @defaultValue none (one queue, competing consumers)
   */
  partitions?: {
    /** Partition queues, 1–1024. Changing it later moves keys to other partitions: change it with the queues drained. */
    count: number;
    /** How often an instance checks its share of the partitions and takes or hands over some. @defaultValue `1000` */
    rebalanceIntervalMs?: number;
    /**
     * An instance whose partition session stays silent this long (frozen, cut off) loses its partitions
     * to the others (PostgreSQL's `idle_session_timeout` on that session); a process that dies loses them
     * at once. Must exceed `rebalanceIntervalMs` several times over. @defaultValue `10000`
     */
    leaseMs?: number;
  };
  /**
   * Adaptive batching: deliveries that are already waiting when a handler slot frees up share one
   * transaction (one dedup statement, one commit; acks after the commit). When idle, each delivery
   * runs alone at once; under a backlog, batches fill up by themselves. Nothing waits for more
   * deliveries unless `maxWaitMs` says so. If a handler in a batch fails, the batch rolls back and
   * each of its deliveries runs again alone (the failing one then retries as usual), so a handler
   * may run more than once for one delivery while its database effects apply once.
   * `maxMessages: 1` gives every delivery a transaction of its own.
   */
  batch?: {
    /** Most deliveries per transaction. @defaultValue `32` */
    maxMessages?: number;
    /** How long a free slot waits for more deliveries before handling a partial batch. @defaultValue `0` (what is already waiting) */
    maxWaitMs?: number;
  };
  /** Unacknowledged deliveries the broker sends ahead. @defaultValue `concurrency * max(4, batch.maxMessages)` */
  prefetch?: number;
  /** Handlers running at once (different ordering keys). @defaultValue `8` */
  concurrency?: number;
  /** Failed handlers: how often and how long to retry (the same shape and meaning as the relay's `retry`). */
  retry?: {
    /** Deliveries in total, the first included, before a failing message is dead-lettered. @defaultValue `5` */
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
  /**
   * Run handlers in your ORM's transactions: `prismaSession(prisma)`, `drizzleSession(db)`,
   * `kyselySession(db)`, `knexSession(knex)` or `mikroOrmSession(orm.em)` from `@txbox/orm/*`.
   * The handler gets the ORM's transaction as `ctx.tx`; the inbox record is written in it too.
   * @defaultValue pg transactions on `database` (or TypeORM ones with `dataSource`)
   */
  session?: SessionFactory;
  /** An outbox writer (`createOutbox(…)` from `@txbox/outbox`) to bind to each handler's transaction (`context.outbox`). */
  outbox?: OutboxPort;
  /**
   * Largest message body accepted, in bytes; a larger one is dead-lettered (`malformed`) without
   * running its handler. Matches the writer's `maxPayloadBytes` default. @defaultValue `262144`
   */
  maxMessageBytes?: number;
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

/**
 * The options that are values, with their defaults. Nested objects default to `{}` run through
 * their own schema (`prefault`), so each default is written once, on its field.
 */
export const consumerOptionsSchema = z
  .object({
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
    partitions: z
      .object({
        count: z.number().int().min(1).max(1024),
        rebalanceIntervalMs: z.number().int().min(50).max(60_000).default(1000),
        leaseMs: z.number().int().min(500).max(3_600_000).default(10_000),
      })
      .refine((p) => p.leaseMs >= 3 * p.rebalanceIntervalMs, {
        message: 'leaseMs must be at least 3 × rebalanceIntervalMs, or a live instance could lose its partitions',
      })
      .optional(),
    prefetch: z.number().int().min(1).max(65_535).optional(),
    concurrency: z.number().int().min(1).max(1000).default(8),
    batch: z
      .object({
        maxMessages: z.number().int().min(1).max(1000).default(32),
        maxWaitMs: z.number().int().min(0).max(10_000).default(0),
      })
      .prefault({}),
    retry: retryPolicySchema({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 300_000 })
      .extend({ delaysMs: z.array(delayMsSchema).max(99).optional() })
      .prefault({}),
    maxMessageBytes: messageBytesSchema,
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
      .prefault({}),
    stopTimeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
  })
  .refine((options) => !(options.partitions && options.singleActiveConsumer), {
    message:
      'partitions and singleActiveConsumer exclude each other: every partition queue has a single active consumer already',
    path: ['singleActiveConsumer'],
  })
  .refine((options) => !(options.partitions && options.queueType === 'quorum' && options.deliveryLimit !== undefined), {
    // RabbitMQ 3.x counts every message a closed channel returns as a delivery: each hand-over of a
    // partition would use up one delivery of every message fetched but not yet started.
    message:
      'partitions and deliveryLimit exclude each other: every partition hand-over counts as a delivery of the messages it returns',
    path: ['deliveryLimit'],
  })
  .transform((options) => ({
    ...options,
    // Enough deliveries in flight to fill a batch for every concurrent transaction.
    prefetch: options.prefetch ?? options.concurrency * Math.max(4, options.batch.maxMessages),
  }));

/** The value options with every default applied; `prefetch` is always set. */
export type ResolvedConsumerOptions = z.output<typeof consumerOptionsSchema>;
