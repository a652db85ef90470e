import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, ExternalContextCreator, MetadataScanner, ModuleRef } from '@nestjs/core';
import {
  AmqpConnection,
  ConfigurationError,
  type MigrationStatus,
  redactUrl,
  TxboxError,
  type TxboxLogger,
} from '@txbox/core';
import {
  createConsumer,
  defineHandler,
  type HandlerRegistration,
  type InboxConsumer,
  inboxMigrationStatus,
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
  outboxMigrationStatus,
} from '@txbox/outbox';
import pg from 'pg';
import { type AmbientTransaction, ambientTransactionFor } from '../handlers/ambient-transaction.js';
import { type DiscoveredHandler, discoverHandlers } from '../handlers/handler-discovery.js';
import {
  resolveWaitForBroker,
  type TxboxDatabaseOption,
  type TxboxModuleOptions,
  validateModuleOptions,
} from '../options/txbox-module-options.js';
import { MODULE_OPTIONS_TOKEN } from '../txbox.module-definition.js';
import { nestLogger } from './nest-logger.js';

interface ResolvedDatabase {
  /** The pool relay, consumers, health and admin use for their own statements. */
  database: pg.Pool;
  /** Set when txbox created the pool (from `{ url }`) and must end it. */
  owned: boolean;
  /** A TypeORM DataSource, when txbox is wired to one: handlers then get `ctx.manager`. */
  dataSource: object | undefined;
  /** Where it points, without a password, for messages. */
  label: string;
}

/** One database txbox works in: the module's, or a consumer group's own. */
interface DatabaseUse {
  db: ResolvedDatabase;
  /** Consumer groups whose inbox (and handler transactions) live in this database. */
  groups: string[];
}

/**
 * Owns everything txbox runs inside a Nest application: the outbox writer, one relay per
 * database txbox writes to, one consumer per group of `@OnMessage` handlers, and the shared
 * AMQP connection. Started at bootstrap; drained in `onModuleDestroy`, which Nest runs before
 * any module's `onApplicationShutdown` — so before `@nestjs/typeorm` destroys the DataSource.
 */
@Injectable()
export class TxboxRuntime implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  readonly options: TxboxModuleOptions;
  readonly logger: TxboxLogger;
  #writer: OutboxWriter | undefined;
  readonly #relays: OutboxRelay[] = [];
  readonly consumers = new Map<string, InboxConsumer>();
  #amqp: AmqpConnection | undefined;
  #db: ResolvedDatabase | undefined;
  /** Every database in use, the module's first; a group with its own `database` adds one. */
  readonly #uses: DatabaseUse[] = [];
  readonly #admins = new Map<ResolvedDatabase, OutboxAdmin>();

  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) options: TxboxModuleOptions,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(ExternalContextCreator) private readonly contextCreator: ExternalContextCreator,
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

  /** The relay on the module's database (undefined with `relay: false`). */
  get relay(): OutboxRelay | undefined {
    return this.#relays[0];
  }

  get amqp(): AmqpConnection | undefined {
    return this.#amqp;
  }

  /** Stats and dead letters of the outbox on the module's database (the admin service uses it). */
  get outboxAdmin(): OutboxAdmin {
    return this.#adminOf(this.database);
  }

  /** The outbox of every database in use, the module's first (the health indicator checks each). */
  get outboxAdmins(): Array<{ database: string; admin: OutboxAdmin }> {
    const uses = this.#uses.length > 0 ? this.#uses : [{ db: this.database, groups: [] }];
    return uses.map(({ db }) => ({ database: db.label, admin: this.#adminOf(db) }));
  }

  /** The database a consumer group's inbox lives in (the module's unless the group was given its own). */
  databaseOfGroup(group: string): ResolvedDatabase {
    return this.#uses.find((u) => u.groups.includes(group))?.db ?? this.database;
  }

  get database(): ResolvedDatabase {
    if (!this.#db) throw new ConfigurationError('TxboxModule', 'txbox is not initialized yet');
    return this.#db;
  }

  async onModuleInit(): Promise<void> {
    this.#db = await this.#resolveDatabase(this.options.database, 'TxboxModule.database');
    this.#writer = createOutbox({
      contracts: this.options.contracts,
      schema: this.schema,
      ...(this.options.exchange ? { exchange: this.options.exchange } : {}),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      // Stop what did start (pools, the AMQP connection and its reconnects), so the process
      // can exit on the error instead of hanging on open handles.
      this.logger.error(`txbox did not start: ${error instanceof Error ? error.message : String(error)}`);
      await this.onModuleDestroy().catch(() => {});
      throw error;
    }
  }

  async #start(): Promise<void> {
    const handlers = discoverHandlers({
      discovery: this.discovery,
      scanner: this.scanner,
      contextCreator: this.contextCreator,
      defaultGroup: this.options.defaultGroup,
    });
    const byGroup = new Map<string, DiscoveredHandler[]>();
    for (const h of handlers) byGroup.set(h.group, [...(byGroup.get(h.group) ?? []), h]);
    const consumersEnabled = this.options.consumers !== false && byGroup.size > 0;
    const relayEnabled = this.options.relay !== false;
    await this.#resolveUses(consumersEnabled ? [...byGroup.keys()] : []);
    await this.#prepareSchemas();
    if (!relayEnabled && !consumersEnabled) return;

    this.#amqp = new AmqpConnection({ url: this.options.amqpUrl, connectionName: 'txbox-nestjs', logger: this.logger });
    await this.#waitForBroker();
    if (relayEnabled) {
      // Every database txbox writes to has its outbox relayed: a group's handlers add to the
      // outbox in their own database's transaction.
      for (const { db } of this.#uses) {
        const relay = createRelay({
          ...(this.options.relay || {}),
          database: db.database,
          amqp: this.#amqp,
          schema: this.schema,
          logger: this.logger,
        });
        this.#relays.push(relay);
        await relay.start();
      }
    }
    if (consumersEnabled) {
      const consumers = this.options.consumers || {};
      for (const use of this.#uses) {
        for (const group of use.groups) {
          const { database: _database, ...settings } = consumers.groups?.[group] ?? {};
          const ambient = await ambientTransactionFor({
            group,
            dataSource: use.db.dataSource,
            session: settings.session ?? consumers.defaults?.session,
            hostFromContainer: (token) => this.#optional(token),
            logger: this.logger,
          });
          const consumer = createConsumer({
            ...consumers.defaults,
            ...settings,
            group,
            database: use.db.database,
            amqp: this.#amqp,
            schema: this.schema,
            ...(this.options.exchange ? { exchange: this.options.exchange } : {}),
            handlers: (byGroup.get(group) ?? []).map((h) => registration(h, ambient)),
            outbox: this.writer,
            ...(use.db.dataSource ? { dataSource: use.db.dataSource as never } : {}),
            logger: this.logger,
          });
          this.consumers.set(group, consumer);
        }
      }
      for (const consumer of this.consumers.values()) await consumer.start();
    }
    this.#logStarted();
  }

  async onModuleDestroy(): Promise<void> {
    // Consumers first (they may still add to the outbox), then the relays, then the connection.
    await Promise.all([...this.consumers.values()].map((c) => c.stop()));
    await Promise.all(this.#relays.map((r) => r.stop()));
    await this.#amqp?.close();
    const owned = new Set(this.#uses.map((u) => u.db));
    if (this.#db) owned.add(this.#db);
    for (const db of owned) if (db.owned) await db.database.end().catch(() => {});
  }

  #adminOf(db: ResolvedDatabase): OutboxAdmin {
    let admin = this.#admins.get(db);
    if (!admin) {
      admin = createOutboxAdmin({ database: db.database, schema: this.schema });
      this.#admins.set(db, admin);
    }
    return admin;
  }

  #optional(token: unknown): unknown {
    try {
      return this.moduleRef.get(token as string, { strict: false });
    } catch {
      return undefined;
    }
  }

  /** The module's database, and one more per group that names its own `database`. */
  async #resolveUses(groups: string[]): Promise<void> {
    const main: DatabaseUse = { db: this.database, groups: [] };
    this.#uses.push(main);
    const consumers = this.options.consumers || {};
    for (const group of groups) {
      const own = consumers.groups?.[group]?.database;
      if (own === undefined) {
        main.groups.push(group);
        continue;
      }
      const db = await this.#resolveDatabase(own, `TxboxModule.consumers.groups.${group}.database`);
      // Two groups naming the same DataSource or pool share one relay and one migration.
      const same = this.#uses.find((u) => u.db.database === db.database);
      if (same) {
        if (db.owned) await db.database.end().catch(() => {});
        same.groups.push(group);
      } else {
        this.#uses.push({ db, groups: [group] });
      }
    }
  }

  /**
   * Applies the migrations (`runMigrations`), or checks that someone did. In production the
   * check runs before anything starts, with a message that says why nothing was migrated.
   */
  async #prepareSchemas(): Promise<void> {
    const schema = this.schema;
    const migrateNow = this.#runMigrations();
    for (const { db, groups } of this.#uses) {
      const database = db.database;
      if (migrateNow) {
        await migrateOutbox({ database, schema });
        if (groups.length > 0) await migrateInbox({ database, schema });
        continue;
      }
      const statuses: MigrationStatus[] = [await outboxMigrationStatus({ database, schema })];
      if (groups.length > 0) statuses.push(await inboxMigrationStatus({ database, schema }));
      const behind = statuses.filter((s) => s.current < s.latest);
      if (behind.length === 0) continue;
      const why =
        this.options.runMigrations === false
          ? 'TxboxModule runs with runMigrations: false'
          : 'NODE_ENV is "production", and TxboxModule applies migrations at startup only outside production (runMigrations defaults to false there)';
      const what = behind
        .map((s) => `the ${s.component} schema "${s.schema}" is at version ${s.current}, ${s.latest} is needed`)
        .join('; ');
      throw new TxboxError(
        'SCHEMA_NOT_MIGRATED',
        `txbox migrations are pending on ${db.label}: ${what}. Nothing was migrated because ${why}. ` +
          `Apply them in your deploy step (npx txbox-outbox migrate${groups.length > 0 ? ' and npx txbox-inbox migrate' : ''} --database-url …, ` +
          'or outboxMigrationSql()/inboxMigrationSql() in a migration of your own), or set runMigrations: true.',
      );
    }
  }

  /** With `waitForBroker`, startup waits for RabbitMQ up to its timeout, then fails. */
  async #waitForBroker(): Promise<void> {
    const wait = resolveWaitForBroker(this.options.waitForBroker);
    const amqp = this.#amqp;
    if (!wait || !amqp) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TxboxError(
              'CONNECTION_FAILED',
              `RabbitMQ at ${amqp.safeUrl} was not reachable within waitForBroker.timeoutMs (${wait.timeoutMs} ms); the application does not start. ` +
                'Check the broker and amqpUrl, raise the timeout, or drop waitForBroker to start without the broker and connect in the background.',
            ),
          ),
        wait.timeoutMs,
      );
    });
    try {
      await Promise.race([amqp.channelModel(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Says what is running, and what is not yet: a consumer without its broker consumes nothing. */
  #logStarted(): void {
    const parts = [
      this.#relays.length > 0 ? `relay on ${this.#relays.length} database(s)` : 'no relay',
      this.consumers.size > 0 ? `consumers for ${[...this.consumers.keys()].join(', ')}` : 'no consumers',
    ];
    if (this.#amqp?.isConnected) {
      this.logger.info(`txbox started: ${parts.join(', ')}`);
      return;
    }
    this.logger.warn(
      `txbox started without RabbitMQ (${this.#amqp?.safeUrl}): ${parts.join(', ')}. Outbox writes are kept and published once it is reachable; nothing is consumed until then. Set waitForBroker to fail the start instead`,
    );
  }

  #runMigrations(): boolean {
    return this.options.runMigrations ?? process.env.NODE_ENV !== 'production';
  }

  async #resolveDatabase(input: TxboxDatabaseOption | undefined, optionName: string): Promise<ResolvedDatabase> {
    const option = input ?? { dataSourceName: 'default' };
    if ('url' in option) {
      const pool = new pg.Pool({ connectionString: option.url, max: 10, application_name: 'txbox-nestjs' });
      pool.on('error', (error) => this.logger.warn('Idle PostgreSQL connection lost', { error: error.message }));
      return { database: pool, owned: true, dataSource: undefined, label: redactUrl(option.url) };
    }
    if ('pool' in option)
      return { database: option.pool, owned: false, dataSource: undefined, label: 'the database of the given pool' };
    let dataSource: object | undefined;
    let label = 'the database of the given DataSource';
    if ('dataSource' in option) {
      dataSource = option.dataSource;
    } else {
      const name = option.dataSourceName ?? 'default';
      label = `the database of the TypeORM DataSource "${name}"`;
      // The tokens @nestjs/typeorm registers: the DataSource class for the default data
      // source, "<name>DataSource" for a named one.
      let token: unknown = `${name}DataSource`;
      if (name === 'default') {
        try {
          token = (await import('typeorm')).DataSource;
        } catch (cause) {
          throw new ConfigurationError(
            optionName,
            'no TypeORM installed: pass { pool } or { url }, or install typeorm and @nestjs/typeorm',
            { cause },
          );
        }
      }
      try {
        dataSource = this.moduleRef.get(token as string, { strict: false }) as object;
      } catch (cause) {
        throw new ConfigurationError(
          `${optionName}.dataSourceName`,
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
        optionName,
        'the TypeORM DataSource must use the postgres driver and be initialized',
      );
    }
    return { database: pool, owned: false, dataSource, label };
  }
}

/** The inbox handler of one @OnMessage method: in the inbox's transaction as the ambient one, through Nest's enhancers. */
function registration(handler: DiscoveredHandler, ambient: AmbientTransaction): HandlerRegistration {
  return defineHandler(handler.contract, (payload, ctx) =>
    // The EntityManager in TypeORM groups; the ORM's transaction in groups with an @txbox/orm session.
    ambient((ctx.manager ?? ctx.tx) as object | undefined, () => handler.invoke(payload, ctx as never)),
  );
}
