import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { AmqpConnection, ConfigurationError, type TxboxLogger } from '@txbox/core';
import {
  createConsumer,
  defineHandler,
  type HandlerRegistration,
  type InboxConsumer,
  migrateInbox,
} from '@txbox/inbox';
import {
  createOutbox,
  createOutboxAdmin,
  createRelay,
  migrateOutbox,
  type OutboxAdmin,
  type OutboxRelay,
  type OutboxWriter,
} from '@txbox/outbox';
import pg from 'pg';
import { readOnMessageMetadata } from '../decorators/on-message.decorator.js';
import { type TxboxModuleOptions, validateModuleOptions } from '../options/txbox-module-options.js';
import { MODULE_OPTIONS_TOKEN } from '../txbox.module-definition.js';
import { nestLogger } from './nest-logger.js';

interface ResolvedDatabase {
  /** The pool relay, consumers, health and admin use for their own statements. */
  database: pg.Pool;
  /** Set when txbox created the pool (from `{ url }`) and must end it. */
  owned: boolean;
  /** A TypeORM DataSource, when txbox is wired to one: handlers then get `ctx.manager`. */
  dataSource: object | undefined;
}

/**
 * Owns everything txbox runs inside a Nest application: the outbox writer, the relay, one
 * consumer per group of `@OnMessage` handlers, and the shared AMQP connection. Started at
 * bootstrap; drained in `onModuleDestroy`, which Nest runs before any module's
 * `onApplicationShutdown` — so before `@nestjs/typeorm` destroys the DataSource.
 */
@Injectable()
export class TxboxRuntime implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  readonly options: TxboxModuleOptions;
  readonly logger: TxboxLogger;
  #writer: OutboxWriter | undefined;
  #relay: OutboxRelay | undefined;
  readonly consumers = new Map<string, InboxConsumer>();
  #amqp: AmqpConnection | undefined;
  #db: ResolvedDatabase | undefined;
  #outboxAdmin: OutboxAdmin | undefined;

  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) options: TxboxModuleOptions,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
  ) {
    validateModuleOptions(options);
    this.options = options;
    this.logger = options.logger ?? nestLogger();
  }

  get schema(): string {
    return this.options.schema ?? 'txbox';
  }

  get writer(): OutboxWriter {
    if (!this.#writer) throw new ConfigurationError('TxboxModule', 'txbox is not initialized yet');
    return this.#writer;
  }

  get relay(): OutboxRelay | undefined {
    return this.#relay;
  }

  get amqp(): AmqpConnection | undefined {
    return this.#amqp;
  }

  /** Stats and dead letters of the outbox, on the runtime's pool (the admin service and health use it). */
  get outboxAdmin(): OutboxAdmin {
    this.#outboxAdmin ??= createOutboxAdmin({ database: this.database.database, schema: this.schema });
    return this.#outboxAdmin;
  }

  get database(): ResolvedDatabase {
    if (!this.#db) throw new ConfigurationError('TxboxModule', 'txbox is not initialized yet');
    return this.#db;
  }

  async onModuleInit(): Promise<void> {
    this.#db = await this.#resolveDatabase();
    this.#writer = createOutbox({
      contracts: this.options.contracts,
      schema: this.schema,
      ...(this.options.exchange ? { exchange: this.options.exchange } : {}),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const db = this.database;
    const handlers = this.#discoverHandlers();
    if (this.#runMigrations()) {
      await migrateOutbox({ database: db.database, schema: this.schema });
      if (handlers.size > 0 && this.options.consumers !== false)
        await migrateInbox({ database: db.database, schema: this.schema });
    }
    const relayEnabled = this.options.relay !== false;
    const consumersEnabled = this.options.consumers !== false && handlers.size > 0;
    if (!relayEnabled && !consumersEnabled) return;
    this.#amqp = new AmqpConnection({ url: this.options.amqpUrl, connectionName: 'txbox-nestjs', logger: this.logger });
    if (relayEnabled) {
      this.#relay = createRelay({
        ...(this.options.relay || {}),
        database: db.database,
        amqp: this.#amqp,
        schema: this.schema,
        logger: this.logger,
      });
      await this.#relay.start();
    }
    if (consumersEnabled) {
      const consumers = this.options.consumers || {};
      for (const [group, registrations] of handlers) {
        const consumer = createConsumer({
          ...consumers.defaults,
          ...consumers.groups?.[group],
          group,
          database: db.database,
          amqp: this.#amqp,
          schema: this.schema,
          ...(this.options.exchange ? { exchange: this.options.exchange } : {}),
          handlers: registrations,
          outbox: this.writer,
          ...(db.dataSource ? { dataSource: db.dataSource as never } : {}),
          logger: this.logger,
        });
        this.consumers.set(group, consumer);
      }
      for (const consumer of this.consumers.values()) await consumer.start();
    }
  }

  async onModuleDestroy(): Promise<void> {
    // Consumers first (they may still add to the outbox), then the relay, then the connection.
    await Promise.all([...this.consumers.values()].map((c) => c.stop()));
    await this.#relay?.stop();
    await this.#amqp?.close();
    if (this.#db?.owned) await this.#db.database.end();
  }

  #runMigrations(): boolean {
    return this.options.runMigrations ?? process.env.NODE_ENV !== 'production';
  }

  /** Finds `@OnMessage` methods on every provider and controller, grouped by consumer group. */
  #discoverHandlers(): Map<string, HandlerRegistration[]> {
    const groups = new Map<string, HandlerRegistration[]>();
    const seen = new Set<string>();
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance);
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        for (const meta of readOnMessageMetadata(prototype[name])) {
          const group = meta.group ?? this.options.defaultGroup;
          const where = `${instance.constructor.name}.${name}`;
          if (!group) {
            throw new ConfigurationError(
              'TxboxModule.defaultGroup',
              `@OnMessage(${meta.contract.type}) on ${where} names no group; pass { group } or set defaultGroup`,
            );
          }
          const id = `${group}/${meta.contract.type}`;
          if (seen.has(id)) {
            throw new ConfigurationError(
              'OnMessage',
              `${meta.contract.type} has two handlers in group ${group} (${where})`,
            );
          }
          seen.add(id);
          const method = instance[name] as (...args: unknown[]) => unknown;
          const registration = defineHandler(meta.contract, async (payload, ctx) => {
            await method.call(instance, payload, ctx);
          });
          groups.set(group, [...(groups.get(group) ?? []), registration]);
        }
      }
    }
    return groups;
  }

  async #resolveDatabase(): Promise<ResolvedDatabase> {
    const option = this.options.database ?? { dataSourceName: 'default' };
    if ('url' in option) {
      const pool = new pg.Pool({ connectionString: option.url, max: 10, application_name: 'txbox-nestjs' });
      pool.on('error', (error) => this.logger.warn('Idle PostgreSQL connection lost', { error: error.message }));
      return { database: pool, owned: true, dataSource: undefined };
    }
    if ('pool' in option) return { database: option.pool, owned: false, dataSource: undefined };
    let dataSource: object | undefined;
    if ('dataSource' in option) {
      dataSource = option.dataSource;
    } else {
      const name = option.dataSourceName ?? 'default';
      // The tokens @nestjs/typeorm registers: the DataSource class for the default data
      // source, "<name>DataSource" for a named one.
      let token: unknown = `${name}DataSource`;
      if (name === 'default') {
        try {
          token = (await import('typeorm')).DataSource;
        } catch (cause) {
          throw new ConfigurationError(
            'TxboxModule.database',
            'no TypeORM installed: pass { pool } or { url }, or install typeorm and @nestjs/typeorm',
            { cause },
          );
        }
      }
      try {
        dataSource = this.moduleRef.get(token as string, { strict: false }) as object;
      } catch (cause) {
        throw new ConfigurationError(
          'TxboxModule.database.dataSourceName',
          `no TypeORM DataSource "${name}" is registered: import TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}', ... }`}) before TxboxModule, or pass { pool } or { url }`,
          { cause },
        );
      }
    }
    const pool = (dataSource as { driver?: { master?: unknown } }).driver?.master as pg.Pool | undefined;
    if (
      !pool ||
      typeof pool.connect !== 'function' ||
      typeof (pool as { totalCount?: unknown }).totalCount !== 'number'
    ) {
      throw new ConfigurationError(
        'TxboxModule.database',
        'the TypeORM DataSource must use the postgres driver and be initialized',
      );
    }
    return { database: pool, owned: false, dataSource };
  }
}
