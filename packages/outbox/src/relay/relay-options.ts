// The relay's options and their one parser. Each default value is written once, in the
// schema below; the JSDoc `@defaultValue` tags (which the README tables are checked against)
// must name exactly what the schema produces.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type AmqpConnection,
  ConfigurationError,
  type DatabaseInput,
  silentLogger,
  type TxboxLogger,
} from '@txbox/core';
import { parseOptions } from '@txbox/core/internal';
import { z } from 'zod';
import { backoffRetryStrategy, type RetryStrategy, relayRetrySchema } from './retry-strategy.js';

export interface OutboxRelayOptions {
  /** PostgreSQL: a connection string (the relay owns its pool) or a `pg.Pool` (borrowed, never ended). */
  database: DatabaseInput;
  /** RabbitMQ: an amqp:// URL or the URLs of a cluster's nodes (the relay owns the connection), or a shared {@link AmqpConnection}. */
  amqp: string | readonly string[] | AmqpConnection;
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
  /** Batches publishing at once per relay (the next is claimed while earlier ones await confirms; as many more may be written to PostgreSQL meanwhile). @defaultValue `2` */
  maxInFlightBatches?: number;
  /** Longest wait for broker confirms of a batch; must be below `leaseMs`. @defaultValue `10000` */
  publishTimeoutMs?: number;
  /** LISTEN for commits to wake at once. @defaultValue `true` */
  listen?: boolean;
  /**
   * After finding messages, stay awake this long: poll every `awakePollMs` and tell writers so
   * (a table row), so that they skip the NOTIFY whose commit serialization costs every writing
   * transaction. Each batch found extends it. `0`: never awake, every writer commit notifies.
   * At least 2000 (writers skip the NOTIFY only while 1 s or more of it is left).
   * @defaultValue `3000`
   */
  awakeMs?: number;
  /** How often an awake relay polls. @defaultValue `5` */
  awakePollMs?: number;
  /** Declare each exchange (durable topic) before the first publish to it. @defaultValue `true` */
  declareExchanges?: boolean;
  /**
   * What to do when the broker returns a message no queue is bound for:
   * `'retry'` (back off and try again, dead-letter when the retry budget is spent),
   * `'dead-letter'` (at once) or `'discard'` (count it as published).
   * @defaultValue `'retry'`
   */
  onUnroutable?: 'retry' | 'dead-letter' | 'discard';
  /**
   * Failed publishes: how often and how long to retry before dead-lettering (the same shape and
   * meaning as the consumer's `retry`). Replaced by `retryStrategy` when that is given.
   */
  retry?: {
    /** Attempts in total, the first included, before a message is dead-lettered. @defaultValue `10` */
    maxAttempts?: number;
    /** Delay before the first retry; doubles at each step (with jitter). @defaultValue `1000` */
    baseDelayMs?: number;
    /** Cap on one delay. @defaultValue `300000` */
    maxDelayMs?: number;
  };
  /** A custom decision for failed publishes, instead of the default strategy that `retry` configures. @defaultValue `defaultRetryStrategy(retry)` */
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
  /** Where the relay logs (pino- and Nest-compatible: see `fromPino`, `consoleLogger`). @defaultValue silent */
  logger?: TxboxLogger;
}

/** What the relay does with a message the broker returned as unroutable. */
export type UnroutablePolicy = NonNullable<OutboxRelayOptions['onUnroutable']>;

const relayOptionsSchema = z
  .object({
    schema: z.string().default('txbox'),
    relayId: z
      .string()
      .min(1)
      .max(200)
      .default(() => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`),
    batchSize: z.number().int().min(1).max(10_000).default(200),
    pollIntervalMs: z.number().int().min(10).max(3_600_000).default(1000),
    leaseMs: z.number().int().min(1000).max(86_400_000).default(30_000),
    publishTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
    maxInFlightBatches: z.number().int().min(1).max(16).default(2),
    listen: z.boolean().default(true),
    awakeMs: z
      .number()
      .int()
      .max(600_000)
      .refine((ms) => ms === 0 || ms >= 2000, 'must be 0 (off) or at least 2000')
      .default(3000),
    awakePollMs: z.number().int().min(1).max(1000).default(5),
    declareExchanges: z.boolean().default(true),
    onUnroutable: z.enum(['retry', 'dead-letter', 'discard']).default('retry'),
    published: z.enum(['delete', 'keep']).default('delete'),
    // `prefault` parses `{}` through the object, so the defaults above each field apply to an
    // omitted `retention` too (a `default({...})` would repeat every value here).
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
      .prefault({}),
    stopTimeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
    retry: relayRetrySchema.prefault({}),
    // Functions and objects are checked, not parsed. `null` means "the default", as it always
    // has for these two (plain JavaScript callers pass it).
    retryStrategy: z
      .custom<RetryStrategy>((value) => value == null || typeof value === 'function', 'must be a function')
      .optional(),
    logger: z
      .custom<TxboxLogger | null>()
      .optional()
      .transform((value): TxboxLogger => value ?? silentLogger),
  })
  .refine((o) => o.publishTimeoutMs < o.leaseMs, {
    message: 'must be lower than leaseMs, or a slow publish would outlive its lease',
    path: ['publishTimeoutMs'],
  })
  .transform(({ retryStrategy, ...o }) => ({ ...o, retryStrategy: retryStrategy ?? backoffRetryStrategy(o.retry) }));

/** The relay's options with every default applied; `database` and `amqp` are resolved by the relay. */
export type ResolvedRelayOptions = z.output<typeof relayOptionsSchema>;

/** Validates the options once, at construction, with errors naming the option (`relay.<name>`). */
export function resolveRelayOptions(options: OutboxRelayOptions): ResolvedRelayOptions {
  if (!options || typeof options !== 'object') throw new ConfigurationError('relay', 'options are required');
  if (options.retry != null && options.retryStrategy != null) {
    throw new ConfigurationError(
      'relay.retry',
      'give retry or retryStrategy, not both (retryStrategy replaces the policy retry configures)',
    );
  }
  return parseOptions(relayOptionsSchema, options, 'relay');
}
