import { queryPool } from '@txbox/core/internal';
import type pg from 'pg';
import { deleteOldDeadLettersSql, deleteOldPublishedSql } from '../sql/outbox-sql.js';
import type { OutboxTables } from '../sql/outbox-tables.js';

export interface CleanupResult {
  publishedDeleted: number;
  deadLettersDeleted: number;
}

/**
 * Deletes kept published rows and old dead letters in statements of `batchSize` rows, each
 * its own short transaction, so retention never holds a long lock on the hot table.
 */
export async function cleanupOutbox(
  pool: pg.Pool,
  tables: OutboxTables,
  policy: { publishedMs: number; deadLettersMs: number | null; batchSize: number },
): Promise<CleanupResult> {
  const result: CleanupResult = { publishedDeleted: 0, deadLettersDeleted: 0 };
  result.publishedDeleted = await deleteInBatches(
    pool,
    deleteOldPublishedSql(tables),
    policy.publishedMs,
    policy.batchSize,
  );
  if (policy.deadLettersMs !== null) {
    result.deadLettersDeleted = await deleteInBatches(
      pool,
      deleteOldDeadLettersSql(tables),
      policy.deadLettersMs,
      policy.batchSize,
    );
  }
  return result;
}

async function deleteInBatches(pool: pg.Pool, sql: string, ageMs: number, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await queryPool(pool, sql, [ageMs, batchSize]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return total;
  }
}
