// Every statement the relay runs against the outbox, in one place, so that fencing can be
// checked at a glance: the claim hands out a lease token, and each later write presents it
// (a relay whose lease expired and was re-claimed changes nothing). SQL text lives in sql/.
import { checkOut, queryPool, statementName, withRetries } from '@txbox/core/internal';
import type pg from 'pg';
import {
  anyClaimableSql,
  claimBatchSql,
  claimLockSql,
  clearRelayAwakeSql,
  deadLetterSql,
  deletePublishedSql,
  markPublishedSql,
  markRelayAwakeSql,
  releaseLeasesSql,
  scheduleRetriesSql,
} from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';
import type { OutboxRowLike } from './encode-outbox-row.js';
import type { DeadLetterWrite, RetryWrite } from './settlement-plan.js';

/** A row as the claim returns it: what the relay publishes and settles. */
export interface ClaimedRow extends OutboxRowLike {
  seq: string;
  exchange: string;
  routing_key: string;
  headers: Record<string, string>;
  attempts: number;
  lease_token: string;
}

interface Statement {
  text: string;
  name: string;
}

export class RelayStore {
  readonly #pool: pg.Pool;
  readonly #tables: OutboxTables;
  readonly #relayId: string;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  /** Prepared once per connection: the claim is the relay's hottest statement. */
  readonly #claimStatement: Statement;
  /** Deletes (or marks) confirmed rows: once per batch. */
  readonly #markStatement: Statement;
  readonly #probeStatement: Statement;
  /** Run every ~awakeMs/2 while the relay is busy. */
  readonly #awakeStatement: Statement;

  constructor(options: {
    pool: pg.Pool;
    tables: OutboxTables;
    relayId: string;
    batchSize: number;
    leaseMs: number;
    published: 'delete' | 'keep';
  }) {
    this.#pool = options.pool;
    this.#tables = options.tables;
    this.#relayId = options.relayId;
    this.#batchSize = options.batchSize;
    this.#leaseMs = options.leaseMs;
    this.#claimStatement = prepared(claimBatchSql(options.tables));
    this.#probeStatement = prepared(anyClaimableSql(options.tables));
    this.#awakeStatement = prepared(markRelayAwakeSql(options.tables));
    this.#markStatement = prepared(
      options.published === 'delete' ? deletePublishedSql(options.tables) : markPublishedSql(options.tables),
    );
  }

  /**
   * Leases up to `batchSize` due messages under one fresh token, in a short transaction with
   * no network I/O inside; returns them in seq order (the order they must be published in).
   * With `probe`, first asks (one round trip, no lock) whether anything is claimable at all: an
   * idle or lightly loaded relay polls often, and most of those polls find nothing.
   */
  async claim(options: { probe?: boolean } = {}): Promise<ClaimedRow[]> {
    if (options.probe) {
      const { text, name } = this.#probeStatement;
      const { rows } = await queryPool<{ any: boolean }>(this.#pool, text, [], { name });
      if (!rows[0]?.any) return [];
    }
    const { client, release } = await checkOut(this.#pool);
    let broken = false;
    try {
      await client.query(`BEGIN; ${claimLockSql(this.#tables)}`);
      const { rows } = await client.query<ClaimedRow>({
        name: this.#claimStatement.name,
        text: this.#claimStatement.text,
        values: [this.#batchSize, this.#relayId, this.#leaseMs],
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

  /** Marks (or deletes) confirmed rows still held under `token`; returns how many it settled. */
  async markPublished(seqs: readonly string[], token: string): Promise<number> {
    const { text, name } = this.#markStatement;
    const { rowCount } = await persist(() => queryPool(this.#pool, text, [seqs, token], { name }));
    return rowCount ?? 0;
  }

  /** Records the failed attempt and makes each row due again after its delay, releasing the lease. */
  async scheduleRetries(retries: readonly RetryWrite[], token: string): Promise<void> {
    await persist(() => queryPool(this.#pool, scheduleRetriesSql(this.#tables), [JSON.stringify(retries), token]));
  }

  /** Moves rows to the dead-letter table with their whole attempt history. */
  async deadLetter(deadLetters: readonly DeadLetterWrite[], token: string): Promise<void> {
    const written = deadLetters.map(({ seq, error, entry, reason }) => ({ seq, error, entry, reason }));
    await persist(() => queryPool(this.#pool, deadLetterSql(this.#tables), [JSON.stringify(written), token]));
  }

  /**
   * Tells writers this relay is awake for `ms` more (they skip their NOTIFY); returns the
   * milliseconds left as PostgreSQL counts them once the row is written.
   */
  async markAwake(ms: number): Promise<number> {
    const { text, name } = this.#awakeStatement;
    const { rows } = await queryPool<{ remaining_ms: number }>(this.#pool, text, [this.#relayId, ms], { name });
    return Number(rows[0]?.remaining_ms ?? 0);
  }

  /** Writers notify again: this relay is not awake any more (it stops). */
  async clearAwake(): Promise<void> {
    await queryPool(this.#pool, clearRelayAwakeSql(this.#tables), [this.#relayId]);
  }

  /** Gives back unsettled leases without counting an attempt (graceful stop). */
  async releaseLeases(tokens: readonly string[]): Promise<void> {
    await queryPool(this.#pool, releaseLeasesSql(this.#tables), [tokens]);
  }
}

/** Settling must not be lost to a blip, or the batch is published again after the lease. */
export function persist<T>(write: () => Promise<T>): Promise<T> {
  // 3 retries over 0.7–1.4 s (jittered 200, 400, 800 ms): rides out a short failover.
  return withRetries(write, { retries: 3, baseDelayMs: 200, maxDelayMs: 2000 });
}

function prepared(text: string): Statement {
  return { text, name: statementName(text) };
}
