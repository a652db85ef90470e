import { ConfigurationError } from '@txbox/core';
import { isUuid, queryPool } from '@txbox/core/internal';
import type pg from 'pg';
import { listDeadLettersSql, purgeDeadLettersSql, requeueDeadLettersSql } from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';

export interface DeadLetter {
  id: string;
  type: string;
  version: number;
  orderingKey: string | null;
  exchange: string;
  routingKey: string;
  payload: unknown;
  headers: Record<string, string>;
  correlationId: string | null;
  causationId: string | null;
  occurredAt: Date;
  attempts: number;
  lastError: string | null;
  /** Every failed attempt: `{ at, attempt, relayId, code, error }`. */
  attemptHistory: unknown[];
  reason: string;
  deadLetteredAt: Date;
}

/** Lists, requeues (with the same id) and purges outbox messages that could not be published. */
export class DeadLetters {
  readonly #pool: pg.Pool;
  readonly #tables: OutboxTables;

  constructor(pool: pg.Pool, tables: OutboxTables) {
    this.#pool = pool;
    this.#tables = tables;
  }

  async list(options: { type?: string; limit?: number; offset?: number } = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 100;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new ConfigurationError('deadLetters.list.limit', 'must be an integer from 1 to 10000');
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new ConfigurationError('deadLetters.list.offset', 'must be a non-negative integer');
    }
    const { rows } = await queryPool(this.#pool, listDeadLettersSql(this.#tables), [
      options.type ?? null,
      limit,
      offset,
    ]);
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      version: r.version,
      orderingKey: r.ordering_key,
      exchange: r.exchange,
      routingKey: r.routing_key,
      payload: r.payload,
      headers: r.headers,
      correlationId: r.correlation_id,
      causationId: r.causation_id,
      occurredAt: r.occurred_at,
      attempts: r.attempts,
      lastError: r.last_error,
      attemptHistory: r.attempt_history,
      reason: r.reason,
      deadLetteredAt: r.dead_lettered_at,
    }));
  }

  /** Puts dead letters back in the outbox, due now, with their original ids. Returns the ids requeued. */
  async requeue(ids: readonly string[]): Promise<string[]> {
    assertIds(ids, 'deadLetters.requeue');
    const { rows } = await queryPool(this.#pool, requeueDeadLettersSql(this.#tables), [ids]);
    return rows.map((r) => r.id as string);
  }

  /** Deletes the given dead letters, or all of them with `'all'`. Returns how many. */
  async purge(ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all') assertIds(ids, 'deadLetters.purge');
    const { rowCount } = await queryPool(this.#pool, purgeDeadLettersSql(this.#tables), [ids === 'all' ? null : ids]);
    return rowCount ?? 0;
  }
}

function assertIds(ids: readonly string[], option: string): void {
  if (!Array.isArray(ids) || !ids.every(isUuid)) {
    throw new ConfigurationError(option, 'expected an array of message ids (UUIDs)');
  }
}
