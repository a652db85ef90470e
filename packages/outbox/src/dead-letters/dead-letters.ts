// Outbox messages the relay gave up on, for operators: list, show, requeue (same id, due now) and
// purge, each over one selection (ids, type, key, time range). Inputs are parsed by
// dead-letter-filter.ts before any statement runs.
import { parseOptions, queryPool } from '@txbox/core/internal';
import type pg from 'pg';
import {
  countDeadLettersSql,
  listDeadLettersSql,
  purgeDeadLettersSql,
  requeueDeadLettersSql,
} from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';
import {
  type DeadLetterFilter,
  type DeadLetterPage,
  deadLetterFilterParams,
  deadLetterPageSchema,
  parseDeadLetterFilter,
} from './dead-letter-filter.js';

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
  traceparent: string | null;
  tracestate: string | null;
  occurredAt: Date;
  attempts: number;
  lastError: string | null;
  /** Every failed attempt: `{ at, attempt, relayId, code, error }`. */
  attemptHistory: unknown[];
  reason: string;
  deadLetteredAt: Date;
}

/** Lists, shows, requeues (with the same id) and purges outbox messages that could not be published. */
export class DeadLetters {
  readonly #pool: pg.Pool;
  readonly #tables: OutboxTables;

  constructor(pool: pg.Pool, tables: OutboxTables) {
    this.#pool = pool;
    this.#tables = tables;
  }

  /** Dead letters matching `filter`, oldest first, one page (`limit`, `offset`). */
  async list(options: DeadLetterFilter & DeadLetterPage = {}): Promise<DeadLetter[]> {
    const { limit, offset, ...rest } = options ?? {};
    const page = parseOptions(deadLetterPageSchema, { limit, offset }, 'deadLetters.list');
    const filter = parseDeadLetterFilter(rest, 'list', { mutation: false });
    const { rows } = await queryPool(this.#pool, listDeadLettersSql(this.#tables), [
      ...deadLetterFilterParams(filter),
      page.limit,
      page.offset,
    ]);
    return rows.map(toDeadLetter);
  }

  /** One dead letter by id, or undefined when there is none with that id. */
  async show(id: string): Promise<DeadLetter | undefined> {
    const [found] = await this.list({ ids: [id], limit: 1 });
    return found;
  }

  /** How many dead letters match `filter`. */
  async count(filter: DeadLetterFilter = {}): Promise<number> {
    const parsed = parseDeadLetterFilter(filter, 'count', { mutation: false });
    const { rows } = await queryPool(this.#pool, countDeadLettersSql(this.#tables), deadLetterFilterParams(parsed));
    return rows[0]?.n ?? 0;
  }

  /**
   * Puts the selected dead letters (ids, or a filter) back in the outbox, due now, with their
   * original ids. Returns the ids requeued. An empty filter is refused: pass `{ all: true }`.
   */
  async requeue(selection: readonly string[] | DeadLetterFilter): Promise<string[]> {
    const filter = parseDeadLetterFilter(selection, 'requeue', { mutation: true });
    const { rows } = await queryPool(this.#pool, requeueDeadLettersSql(this.#tables), deadLetterFilterParams(filter));
    return rows.map((r) => r.id as string);
  }

  /** Deletes the selected dead letters (ids, a filter, or `'all'`). Returns how many. */
  async purge(selection: readonly string[] | DeadLetterFilter | 'all'): Promise<number> {
    const filter = parseDeadLetterFilter(selection === 'all' ? { all: true } : selection, 'purge', { mutation: true });
    const { rowCount } = await queryPool(this.#pool, purgeDeadLettersSql(this.#tables), deadLetterFilterParams(filter));
    return rowCount ?? 0;
  }
}

function toDeadLetter(r: pg.QueryResultRow): DeadLetter {
  return {
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
    traceparent: r.traceparent,
    tracestate: r.tracestate,
    occurredAt: r.occurred_at,
    attempts: r.attempts,
    lastError: r.last_error,
    attemptHistory: r.attempt_history,
    reason: r.reason,
    deadLetteredAt: r.dead_lettered_at,
  };
}
