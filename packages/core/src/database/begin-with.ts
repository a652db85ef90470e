// BEGIN and a transaction's first statement in one round trip. node-postgres sends one query at a
// time and waits for its ReadyForQuery, so `BEGIN` then the statement costs two round trips. In
// the extended query protocol several statements may precede one Sync and run in order: this
// sends BEGIN (unnamed statement) and the statement, then a single Sync, as one write. The
// statement keeps bound parameters and its prepared name. node-postgres' own Query does the
// protocol; only `prepare` (what is written) and `handleCommandComplete` (skip BEGIN's) are
// extended, as pg-cursor and pg-query-stream extend it.
import pg from 'pg';

interface ProtocolConnection {
  parse(config: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
}

class BeginThenQuery extends pg.Query {
  #beginCompleted = false;

  // Called by pg's Query.submit with the stream corked: everything goes out in one write.
  prepare(connection: ProtocolConnection): void {
    connection.parse({ text: 'BEGIN', name: '', types: [] });
    connection.bind({ portal: '', statement: '', values: [] });
    connection.execute({ portal: '', rows: 0 });
    (pg.Query.prototype as unknown as { prepare(c: ProtocolConnection): void }).prepare.call(this, connection);
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    if (!this.#beginCompleted) {
      // BEGIN's: the result is the statement's.
      this.#beginCompleted = true;
      return;
    }
    (
      pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }
    ).handleCommandComplete.call(this, message, connection);
  }
}

/**
 * Opens a transaction on `client` and runs its first statement, in one round trip when `client`
 * is a node-postgres client (two otherwise). On failure the transaction is open and failed (or,
 * if BEGIN itself failed, not open): roll back as after any failed statement.
 */
export async function beginWith<R extends pg.QueryResultRow>(
  client: pg.ClientBase,
  statement: { text: string; values: readonly unknown[]; name?: string },
): Promise<pg.QueryResult<R>> {
  if (!(client instanceof pg.Client) || typeof pg.Query !== 'function') {
    await client.query('BEGIN');
    return statement.name
      ? client.query<R>({ name: statement.name, text: statement.text, values: [...statement.values] })
      : client.query<R>(statement.text, [...statement.values]);
  }
  return new Promise<pg.QueryResult<R>>((resolve, reject) => {
    // Extended protocol always (without values or a name pg would send a simple query); pg reads
    // queryMode though its types do not declare it.
    const config = { text: statement.text, values: [...statement.values], name: statement.name, queryMode: 'extended' };
    const query = new BeginThenQuery(
      config as pg.QueryConfig,
      undefined,
      (error: Error | undefined, result: pg.QueryResult<R>) => (error ? reject(error) : resolve(result)),
    );
    client.query(query as unknown as pg.QueryConfig);
  });
}
