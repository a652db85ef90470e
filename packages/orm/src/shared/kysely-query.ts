// Kysely runs a compiled query as it is: a raw compiled query carries our text and bound
// parameters. Built here in Kysely's shape (what `CompiledQuery.raw` returns) so that neither the
// Kysely nor the MikroORM entry point loads Kysely itself: each uses the copy its ORM brought.
import { randomUUID } from 'node:crypto';
import type { SqlResult } from '@txbox/core';

export interface KyselyExecutorLike {
  executeQuery(
    query: unknown,
  ): Promise<{ rows: unknown[]; numAffectedRows?: bigint; numUpdatedOrDeletedRows?: bigint }>;
}

export async function runOnKysely(
  executor: KyselyExecutorLike,
  text: string,
  values: readonly unknown[],
): Promise<SqlResult<Record<string, unknown>>> {
  const compiled = Object.freeze({
    sql: text,
    query: Object.freeze({ kind: 'RawNode', sqlFragments: Object.freeze([text]), parameters: Object.freeze([]) }),
    parameters: Object.freeze([...values]),
    queryId: Object.freeze({ queryId: randomUUID() }),
  });
  const result = await executor.executeQuery(compiled);
  const rows = result.rows as Record<string, unknown>[];
  return { rows, rowCount: Number(result.numAffectedRows ?? result.numUpdatedOrDeletedRows ?? rows.length) };
}

/** Kysely's own refusal of a callback transaction used after it ended (0.28+). */
export function kyselyFinished(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : '';
  return /^Transaction is already (committed|rolled back)$/.test(message)
    ? `The Kysely transaction is over (${message.toLowerCase().replace('transaction is ', '')}); write inside db.transaction().execute(async (trx) => …) and pass that trx.`
    : undefined;
}
