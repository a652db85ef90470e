import { queryPool } from '@txbox/core/internal';
import type pg from 'pg';
import { statsSql, writtenTotalSql } from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';

export interface OutboxStats {
  /** Not yet published (due, delayed, retrying or leased). */
  pending: number;
  /** Due now and not leased: waiting for a relay. */
  due: number;
  /** Leased by a relay right now. */
  leased: number;
  /** Published rows kept for audit (`published: 'keep'`). */
  publishedRetained: number;
  deadLetters: number;
  /** Age of the oldest due message in ms (the relay lag), or 0 when none is due. */
  oldestDueAgeMs: number;
}

interface StatsRow {
  pending: number;
  due: number;
  leased: number;
  published_retained: number;
  dead_letters: number;
  oldest_due_age_ms: number | null;
}

export async function readOutboxStats(pool: pg.Pool, tables: OutboxTables): Promise<OutboxStats> {
  const { rows } = await queryPool<StatsRow>(pool, statsSql(tables));
  const r = rows[0] as StatsRow;
  return {
    pending: r.pending,
    due: r.due,
    leased: r.leased,
    publishedRetained: r.published_retained,
    deadLetters: r.dead_letters,
    oldestDueAgeMs: Math.max(0, Math.round(r.oldest_due_age_ms ?? 0)),
  };
}

/** Outbox rows ever written (a counter: its growth over time is the write rate). */
export async function readWrittenTotal(pool: pg.Pool, tables: OutboxTables): Promise<number> {
  const { rows } = await queryPool<{ written: number }>(pool, writtenTotalSql(), [tables.outbox]);
  return rows[0]?.written ?? 0;
}
