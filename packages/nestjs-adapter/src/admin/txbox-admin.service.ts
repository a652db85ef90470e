import { Inject, Injectable } from '@nestjs/common';
import type { InboxStats } from '@txbox/inbox';
import { type DeadLetter, DeadLetters, type OutboxStats, outboxTables, readOutboxStats } from '@txbox/outbox';
import type pg from 'pg';
import { TxboxRuntime } from '../runtime/txbox-runtime.js';

export interface TxboxStats {
  outbox: OutboxStats;
  consumers: InboxStats[];
}

/**
 * Operations for an admin endpoint or a script. txbox mounts no HTTP routes: expose what you
 * need behind your own guards.
 */
@Injectable()
export class TxboxAdmin {
  constructor(@Inject(TxboxRuntime) private readonly runtime: TxboxRuntime) {}

  async stats(): Promise<TxboxStats> {
    const consumers = await Promise.all([...this.runtime.consumers.values()].map((c) => c.stats()));
    const outbox = await this.#withPool((pool) => readOutboxStats(pool, outboxTables(this.runtime.schema)));
    return { outbox, consumers };
  }

  /** Outbox messages that could not be published. */
  listDeadLetters(options: { type?: string; limit?: number; offset?: number } = {}): Promise<DeadLetter[]> {
    return this.#withPool((pool) => this.#deadLetters(pool).list(options));
  }

  /** Puts outbox dead letters back, with their ids, due now. */
  requeueDeadLetters(ids: string[]): Promise<string[]> {
    return this.#withPool((pool) => this.#deadLetters(pool).requeue(ids));
  }

  purgeDeadLetters(ids: string[] | 'all'): Promise<number> {
    return this.#withPool((pool) => this.#deadLetters(pool).purge(ids));
  }

  #deadLetters(pool: pg.Pool): DeadLetters {
    return new DeadLetters(pool, outboxTables(this.runtime.schema));
  }

  async #withPool<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
    return fn(this.runtime.database.database);
  }
}
