// The one object operators' tools use on an outbox: its stats and its dead letters. The relay,
// the Nest admin service and health indicator, the CLI and scripts all go through it, so an
// operation means the same thing everywhere and no caller needs the SQL or table names.
import { ConfigurationError, type DatabaseInput, type MigrationStatus, migrationStatus, TxboxError } from '@txbox/core';
import { checkOut, type OwnedPool, resolvePool } from '@txbox/core/internal';
import { DeadLetters } from '../dead-letters/dead-letters.js';
import { outboxMigrations } from '../migrations/outbox-migrations.js';
import { outboxTables } from '../sql/outbox-tables.js';
import { type OutboxStats, readOutboxStats, readWrittenTotal } from '../stats/stats.js';
import { WalSlotMissingError } from '../wal/wal-errors.js';
import { readSlotState, type SlotState, walSlotNames } from '../wal/wal-slot.js';

export interface OutboxAdminOptions {
  /** PostgreSQL: a connection string (the admin owns a small pool, ended by `close()`) or a `pg.Pool` (yours to end). */
  database: DatabaseInput;
  /** Schema of the outbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** WAL mode: the replication slot `status()` reports on. @defaultValue `txbox_<schema>` */
  slot?: string;
}

/** What `status()` reports: the schema's migrations and, once it is migrated, the stats. */
export interface OutboxStatus {
  migrations: MigrationStatus;
  /** Undefined while the schema is missing or behind (the tables may not exist yet). */
  stats: OutboxStats | undefined;
  /** WAL mode: the slot's state and how much WAL it holds back; null when there is no such slot (table mode). */
  slot: ({ name: string } & SlotState) | null;
}

/** Stats, migration status and dead letters of one outbox schema. */
export class OutboxAdmin {
  /** List, requeue (with the same id, due now) and purge messages the relay could not publish. */
  readonly deadLetters: DeadLetters;
  readonly #db: OwnedPool;
  readonly #tables: ReturnType<typeof outboxTables>;
  readonly #slotName: string;
  #closed = false;

  constructor(options: OutboxAdminOptions) {
    if (!options || typeof options !== 'object') throw new ConfigurationError('outboxAdmin', 'options are required');
    this.#tables = outboxTables(options.schema ?? 'txbox');
    this.#slotName = walSlotNames({ schema: this.#tables.schema, slot: options.slot }).slot;
    this.#db = resolvePool(options.database, { max: 2, applicationName: 'txbox-outbox-admin' });
    this.deadLetters = new DeadLetters(this.#db.pool, this.#tables);
  }

  /** Counts of pending, due and leased messages, dead letters, and the age of the oldest due one. */
  stats(): Promise<OutboxStats> {
    return readOutboxStats(this.#db.pool, this.#tables);
  }

  /**
   * How many messages were ever written to the outbox: a counter that only grows (the seq
   * identity's last value, so a rolled-back write counts too). Sampled twice, its growth is the
   * write rate; with `stats()` the publish rate follows (the dashboard's charts).
   */
  writtenTotal(): Promise<number> {
    return readWrittenTotal(this.#db.pool, this.#tables);
  }

  /** Applied and pending migrations, and the stats when the schema is current. */
  async status(): Promise<OutboxStatus> {
    const held = await checkOut(this.#db.pool).catch((cause: unknown) => {
      throw new TxboxError('CONNECTION_FAILED', `Cannot connect to PostgreSQL at ${this.#db.safeTarget}`, { cause });
    });
    let migrations: MigrationStatus;
    try {
      migrations = await migrationStatus(held.client, outboxMigrations, this.#tables.schema);
    } finally {
      held.release();
    }
    const current = migrations.current === migrations.latest;
    return { migrations, stats: current ? await this.stats() : undefined, slot: await this.#slot() };
  }

  async #slot(): Promise<OutboxStatus['slot']> {
    const held = await checkOut(this.#db.pool);
    try {
      return { name: this.#slotName, ...(await readSlotState(held.client, this.#slotName)) };
    } catch (error) {
      if (error instanceof WalSlotMissingError) return null;
      throw error;
    } finally {
      held.release();
    }
  }

  /** Ends the pool if the admin created it from a URL. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#db.owned) await this.#db.pool.end();
  }
}

/** Creates an {@link OutboxAdmin}. */
export function createOutboxAdmin(options: OutboxAdminOptions): OutboxAdmin {
  return new OutboxAdmin(options);
}
