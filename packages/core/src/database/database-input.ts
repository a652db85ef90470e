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
    return { pool, owned: true, clientConfig, safeTarget: redactUrl(database) };
  }
  if (database && typeof database === 'object' && typeof (database as pg.Pool).connect === 'function') {
    const poolOptions = (database as pg.Pool & { options?: pg.PoolConfig }).options ?? {};
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
  const guarded = client as pg.PoolClient & { [GUARDED]?: { lost: boolean } };
  if (!guarded[GUARDED]) {
    const state = { lost: false };
    guarded[GUARDED] = state;
    client.on('error', () => {
      state.lost = true;
    });
  }
  const state = guarded[GUARDED] as { lost: boolean };
  state.lost = false;
  return {
    client,
    release: (broken = false) => {
      client.release(broken || state.lost ? true : undefined);
    },
  };
}
