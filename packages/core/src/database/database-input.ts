import pg from 'pg';
import { redactUrl } from '../amqp/redact-url.js';
import { ConfigurationError, TxboxError } from '../errors/txbox-error.js';

/**
 * How the relay, migrations and admin functions reach PostgreSQL on their own (outside
 * any caller transaction): a connection string (txbox opens and closes its own pool) or an
 * existing `pg.Pool` (txbox borrows it and never ends it).
 */
export type DatabaseInput = string | pg.Pool;

export interface OwnedPool {
  pool: pg.Pool;
  /** True when txbox created the pool and must end it. */
  owned: boolean;
  /** Connection settings, to open dedicated connections (LISTEN) with the same target. */
  clientConfig: pg.ClientConfig;
  safeTarget: string;
}

export function resolvePool(
  database: DatabaseInput,
  options: { max?: number; applicationName?: string } = {},
): OwnedPool {
  if (typeof database === 'string') {
    if (!/^postgres(ql)?:\/\//.test(database)) {
      throw new ConfigurationError(
        'database',
        `expected a postgres:// connection string or a pg.Pool, got ${JSON.stringify(redactUrl(database))}`,
      );
    }
    const clientConfig: pg.ClientConfig = {
      connectionString: database,
      application_name: options.applicationName ?? 'txbox',
    };
    const pool = new pg.Pool({ ...clientConfig, max: options.max ?? 4 });
    // An idle client losing its connection (pg_terminate_backend, restart) must not crash the process.
    pool.on('error', () => {});
    guardPool(pool);
    return { pool, owned: true, clientConfig, safeTarget: redactUrl(database) };
  }
  if (database && typeof database === 'object' && typeof (database as pg.Pool).connect === 'function') {
    const poolOptions = (database as pg.Pool & { options?: pg.PoolConfig }).options ?? {};
    guardPool(database);
    const clientConfig: pg.ClientConfig = { ...poolOptions };
    return { pool: database, owned: false, clientConfig, safeTarget: describeTarget(poolOptions) };
  }
  throw new ConfigurationError('database', 'expected a postgres:// connection string or a pg.Pool');
}

function describeTarget(config: pg.PoolConfig): string {
  if (config.connectionString) return redactUrl(config.connectionString);
  return `postgres://${config.user ?? ''}@${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
}

/** Runs `fn` with a connection of its own, released (or closed) afterwards. */
export async function withDedicatedClient<T>(
  database: DatabaseInput,
  fn: (client: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<T> {
  const resolved = resolvePool(database, { max: 1 });
  let held: Awaited<ReturnType<typeof checkOut>>;
  try {
    held = await checkOut(resolved.pool);
  } catch (cause) {
    if (resolved.owned) await resolved.pool.end().catch(() => {});
    throw new TxboxError('CONNECTION_FAILED', `Cannot connect to PostgreSQL at ${resolved.safeTarget}`, { cause });
  }
  try {
    return await fn(held.client);
  } finally {
    held.release();
    if (resolved.owned) await resolved.pool.end();
  }
}

const GUARDED = Symbol.for('txbox.pg-client-guarded');

/** Attaches (once) the listener that keeps a dying connection's 'error' event from crashing the process. */
function guardClient(client: pg.Client): { lost: boolean } {
  const guarded = client as pg.Client & { [GUARDED]?: { lost: boolean } };
  let state = guarded[GUARDED];
  if (!state) {
    const fresh = { lost: false };
    guarded[GUARDED] = fresh;
    client.on('error', () => {
      fresh.lost = true;
    });
    state = fresh;
  }
  return state;
}

/**
 * Guards every client of `pool` from the moment it connects. pg-pool hands a new client over
 * from inside the socket's data handler, after removing its own listener: if the same packet
 * also carries the server's termination notice, the 'error' is emitted before the caller can
 * attach anything. The pool's 'connect' event fires just before that, synchronously.
 */
export function guardPool(pool: pg.Pool): void {
  const marked = pool as pg.Pool & { [GUARDED]?: true };
  if (marked[GUARDED]) return;
  marked[GUARDED] = true;
  pool.on('connect', (client) => {
    guardClient(client);
  });
}

/**
 * Checks a client out of `pool`, guarded against the 'error' events pg emits on a client
 * whose connection dies (pg_terminate_backend, a failover, a network cut). With no listener
 * such an event crashes the process, and the pool only listens while a client is idle — not
 * while it is checked out, nor while it is being discarded. The guard stays on the client
 * for its whole life; the query in flight still rejects, so callers see every failure.
 * `release(broken)` discards the connection when it is broken (or was lost while held).
 */
export async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: (broken?: boolean) => void }> {
  const client = await pool.connect();
  const state = guardClient(client);
  state.lost = false;
  return {
    client,
    release: (broken = false) => {
      client.release(broken || state.lost ? true : undefined);
    },
  };
}

/**
 * `pool.query`, made safe: pg-pool's own `pool.query` listens for only the first 'error' of
 * the client it borrows, and a terminated backend emits two (the server's message, then the
 * closed socket) — the second one crashes the process. Every statement txbox runs on a pool
 * goes through here instead.
 */
export async function queryPool<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values?: unknown[],
  options: { name?: string } = {},
): Promise<pg.QueryResult<R>> {
  const { client, release } = await checkOut(pool);
  let broken = false;
  try {
    return options.name
      ? await client.query<R>({ name: options.name, text, values: values ?? [] })
      : await client.query<R>(text, values);
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    release(broken);
  }
}
