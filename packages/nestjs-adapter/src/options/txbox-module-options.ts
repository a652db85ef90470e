import { type AnyMessageContract, ConfigurationError, isMessageContract, type TxboxLogger } from '@txbox/core';
import { validateAmqpName, validateSqlIdentifier } from '@txbox/core/internal';
import type { InboxConsumerOptions } from '@txbox/inbox';
import type { OutboxRelayOptions } from '@txbox/outbox';
import type pg from 'pg';

/** Where txbox reaches PostgreSQL. */
export type TxboxDatabaseOption =
  /** The TypeORM DataSource registered by `@nestjs/typeorm` (default: the default one). */
  | { dataSourceName?: string }
  /** A TypeORM DataSource instance (postgres driver). */
  | { dataSource: object }
  /** A `pg` pool (txbox borrows it and never ends it). */
  | { pool: pg.Pool }
  /** A connection string (txbox opens and closes its own pools). */
  | { url: string };

/** Consumer settings shared by every group, or set for one group. */
export type TxboxConsumerSettings = Omit<
  InboxConsumerOptions,
  'group' | 'database' | 'amqp' | 'handlers' | 'schema' | 'exchange' | 'dataSource' | 'outbox' | 'logger'
>;

/** Settings of one consumer group: consumer options, and optionally a database of its own. */
export type TxboxGroupSettings = TxboxConsumerSettings & {
  /**
   * The group's own database: its inbox table and its handlers' transactions live there, and
   * what its handlers add to the outbox is relayed from there (txbox migrates and relays each
   * database in use). Same shapes as the module's `database`. Default: the module's database.
   */
  database?: TxboxDatabaseOption;
};

/** Startup waits for RabbitMQ instead of starting without it. */
export interface TxboxWaitForBroker {
  /** How long startup waits before it fails with `CONNECTION_FAILED`. @defaultValue `30000` */
  timeoutMs?: number;
}

/** `waitForBroker` resolved: undefined when startup does not wait. */
export function resolveWaitForBroker(option: TxboxModuleOptions['waitForBroker']): { timeoutMs: number } | undefined {
  if (!option) return undefined;
  return { timeoutMs: (option === true ? undefined : option.timeoutMs) ?? 30_000 };
}

export interface TxboxModuleOptions {
  /** Contracts the injectable outbox (and handlers' `ctx.outbox`) may write. */
  contracts: AnyMessageContract[];
  /** RabbitMQ URL (amqp:// or amqps://). */
  amqpUrl: string;
  /** PostgreSQL source. @defaultValue `{ dataSourceName: 'default' }` (the `@nestjs/typeorm` default DataSource) */
  database?: TxboxDatabaseOption;
  /** Schema of the txbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** Topic exchange. @defaultValue `'txbox.events'` */
  exchange?: string;
  /**
   * Apply outbox and inbox migrations at startup.
   * @defaultValue `true`, except when `NODE_ENV` is `production`
   */
  runMigrations?: boolean;
  /** The relay of this instance; `false` turns it off (API-only instances). @defaultValue `{}` (on) */
  relay?: false | Omit<OutboxRelayOptions, 'database' | 'amqp' | 'schema' | 'logger'>;
  /**
   * The consumers of this instance (one per group used by `@OnMessage` handlers); `false`
   * turns them off (instances that only produce). @defaultValue `{}` (on)
   */
  consumers?: false | { defaults?: TxboxConsumerSettings; groups?: Record<string, TxboxGroupSettings> };
  /**
   * Fail the start when RabbitMQ is not reachable within `timeoutMs` (`true`: 30000 ms),
   * instead of starting without it (the relay keeps the backlog, consumers connect later).
   * @defaultValue `false`
   */
  waitForBroker?: boolean | TxboxWaitForBroker;
  /** Group of `@OnMessage` handlers that name none. @defaultValue none (each handler must name its group) */
  defaultGroup?: string;
  /** Thresholds of the health indicator. */
  health?: {
    /** Relay lag (age of the oldest due outbox message) above which txbox is down. @defaultValue `30000` */
    maxLagMs?: number;
    /** Outbox dead letters above which txbox is down; `null` ignores them. @defaultValue `null` */
    maxDeadLetters?: number | null;
  };
  /** Logger. @defaultValue Nest's `Logger` with context `Txbox` */
  logger?: TxboxLogger;
}

/** Checks options once at startup, with errors naming the option. */
export function validateModuleOptions(options: TxboxModuleOptions): void {
  if (!options || typeof options !== 'object') throw new ConfigurationError('TxboxModule', 'options are required');
  if (!Array.isArray(options.contracts) || !options.contracts.every(isMessageContract)) {
    throw new ConfigurationError('TxboxModule.contracts', 'must be an array of contracts made with defineMessage()');
  }
  if (typeof options.amqpUrl !== 'string' || !/^amqps?:\/\//.test(options.amqpUrl)) {
    throw new ConfigurationError('TxboxModule.amqpUrl', 'must be an amqp:// or amqps:// URL');
  }
  if (options.schema !== undefined) validateSqlIdentifier('TxboxModule.schema', options.schema);
  if (options.exchange !== undefined) validateAmqpName('TxboxModule.exchange', options.exchange);
  if (options.database !== undefined) validateDatabase(options.database, 'TxboxModule.database');
  if (options.runMigrations !== undefined && typeof options.runMigrations !== 'boolean') {
    throw new ConfigurationError('TxboxModule.runMigrations', 'must be a boolean');
  }
  if (options.relay !== undefined && options.relay !== false && typeof options.relay !== 'object') {
    throw new ConfigurationError('TxboxModule.relay', 'must be false or relay options');
  }
  if (options.consumers !== undefined && options.consumers !== false && typeof options.consumers !== 'object') {
    throw new ConfigurationError('TxboxModule.consumers', 'must be false or { defaults, groups }');
  }
  const wait = options.waitForBroker;
  if (wait !== undefined && typeof wait !== 'boolean') {
    const timeoutMs = typeof wait === 'object' && wait !== null ? wait.timeoutMs : Number.NaN;
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) {
      throw new ConfigurationError(
        'TxboxModule.waitForBroker',
        'must be a boolean or { timeoutMs } with a positive whole number of milliseconds',
      );
    }
  }
  if (options.consumers) {
    for (const [group, settings] of Object.entries(options.consumers.groups ?? {})) {
      if (settings?.database !== undefined)
        validateDatabase(settings.database, `TxboxModule.consumers.groups.${group}.database`);
    }
  }
  const maxLag = options.health?.maxLagMs;
  if (maxLag !== undefined && (!Number.isFinite(maxLag) || maxLag <= 0)) {
    throw new ConfigurationError('TxboxModule.health.maxLagMs', 'must be a positive number of milliseconds');
  }
}

function validateDatabase(db: unknown, option: string): void {
  if (typeof db !== 'object' || db === null) {
    throw new ConfigurationError(option, 'must be { dataSourceName }, { dataSource }, { pool } or { url }');
  }
  if ('url' in db && !/^postgres(ql)?:\/\//.test(String(db.url))) {
    throw new ConfigurationError(`${option}.url`, 'must be a postgres:// URL');
  }
}
