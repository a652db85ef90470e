// Knex binds positional `?` placeholders; txbox's SQL uses PostgreSQL's `$n`.

/**
 * `$1 … $n` to Knex's positional `?`, one binding per occurrence (a `$n` used twice is bound
 * twice). A `?` already in the text (a jsonb operator) is escaped as `\?`, which Knex leaves as `?`.
 */
export function toKnexBindings(text: string, values: readonly unknown[]): { sql: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const sql = text.replace(/\?/g, '\\?').replace(/\$(\d+)/g, (_, n: string) => {
    bindings.push(values[Number(n) - 1]);
    return '?';
  });
  return { sql, bindings };
}
