import { createHash } from 'node:crypto';
import { NotInTransactionError } from '../errors/txbox-error.js';

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

/** Anything that runs parameterized SQL. */
export interface SqlExecutor {
  /**
   * Runs a statement. With `options.name`, drivers that support it run it as a named
   * prepared statement (parsed and planned once per connection); others ignore the name.
   */
  query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    options?: { name?: string },
  ): Promise<SqlResult<R>>;
}

/**
 * The narrow seam through which txbox writes inside the caller's transaction. Obtain one
 * with {@link fromPg} or {@link fromTypeOrm}, or let `outbox.add` adapt what you pass.
 */
export interface Transaction extends SqlExecutor {
  readonly kind: 'txbox.transaction';
  /** Where the handle came from: `pg`, `typeorm`, or the ORM adapter of `@txbox/orm/*` that made it. */
  readonly driver: TransactionDriver;
  /** Throws {@link NotInTransactionError} unless a transaction is open and not aborted right now. */
  assertActive(): void;
}

/** The drivers txbox adapts; `custom` for a Transaction written by hand. */
export type TransactionDriver = 'pg' | 'typeorm' | 'prisma' | 'drizzle' | 'kysely' | 'knex' | 'mikro-orm' | 'custom';

/** The parts of a `pg` Client used: `query` and the protocol-level transaction status. */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  getTransactionStatus?: () => string | null;
}

/** The parts of a TypeORM `EntityManager` used. */
export interface TypeOrmEntityManagerLike {
  readonly queryRunner?: {
    readonly isTransactionActive: boolean;
    readonly isReleased?: boolean;
    query(
      text: string,
      values: unknown[] | undefined,
      useStructuredResult: true,
    ): Promise<{
      records?: unknown[];
      affected?: number | null;
    }>;
  };
  readonly connection?: unknown;
}

const TRANSACTION_HELP =
  'Pass the handle of an open transaction: with pg, `const client = await pool.connect(); await client.query("BEGIN")` and pass `client`; ' +
  'with TypeORM, pass the `manager` given to `dataSource.transaction(async (manager) => ...)`.';

function isPgPool(value: object): boolean {
  // pg.Pool has connection counters and `connect`, but no per-connection transaction status.
  const v = value as Record<string, unknown>;
  return typeof v.totalCount === 'number' && typeof v.idleCount === 'number' && typeof v.connect === 'function';
}

function isTypeOrmDataSource(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.isInitialized === 'boolean' && typeof v.manager === 'object' && typeof v.transaction === 'function';
}

/**
 * Wraps a `pg` client that is inside a transaction (after `BEGIN`). The check uses the
 * transaction status PostgreSQL reports after every statement (ReadyForQuery), so it is
 * exact, and it is repeated before every write: a handle used after COMMIT is refused.
 */
export function fromPg(client: PgClientLike): Transaction {
  if (typeof client !== 'object' || client === null || typeof client.query !== 'function') {
    throw new NotInTransactionError(`fromPg() expects a pg Client inside a transaction. ${TRANSACTION_HELP}`);
  }
  if (isPgPool(client)) {
    throw new NotInTransactionError(
      `fromPg() was given a pg Pool, which runs every statement in its own transaction. ${TRANSACTION_HELP}`,
    );
  }
  if (typeof client.getTransactionStatus !== 'function') {
    throw new NotInTransactionError(
      'fromPg() was given a client without getTransactionStatus(); upgrade pg to 8.16 or newer, or pass a pg Client.',
    );
  }
  const assertActive = () => {
    const status = client.getTransactionStatus?.();
    if (status === 'T') return;
    if (status === 'E') {
      throw new NotInTransactionError(
        'The pg transaction has already failed (a previous statement raised an error); roll it back instead of writing to it.',
      );
    }
    throw new NotInTransactionError(`The pg client is not inside a transaction (run BEGIN first). ${TRANSACTION_HELP}`);
  };
  assertActive();
  return {
    kind: 'txbox.transaction',
    driver: 'pg',
    assertActive,
    async query<R>(text: string, values: readonly unknown[] = [], options: { name?: string } = {}) {
      try {
        const result = options.name
          ? await (
              client as PgClientLike & { query(config: object): Promise<{ rows: unknown[]; rowCount: number | null }> }
            ).query({
              name: options.name,
              text,
              values,
            })
          : await client.query(text, values as unknown[]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      } catch (error) {
        await transactionStatusSettled(client);
        throw error;
      }
    },
  };
}

/**
 * pg rejects a failed query on PostgreSQL's ErrorResponse; the new transaction status ('E') comes
 * with the ReadyForQuery after it, which can arrive in a later packet. Waiting for it means that
 * once a caller sees the error, `assertActive()` already knows the transaction failed.
 */
async function transactionStatusSettled(client: PgClientLike): Promise<void> {
  const internals = client as PgClientLike & {
    readyForQuery?: boolean;
    connection?: { once(event: 'readyForQuery' | 'end', listener: () => void): unknown };
  };
  if (internals.readyForQuery !== false || !internals.connection) return;
  const connection = internals.connection;
  await new Promise<void>((resolve) => {
    // A connection that dies instead never sends it; do not wait past that (or a short bound).
    const timer = setTimeout(resolve, 1000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    connection.once('readyForQuery', done);
    connection.once('end', done);
  });
}

/**
 * Wraps a TypeORM `EntityManager` bound to a transaction: the one given to
 * `dataSource.transaction(async (manager) => ...)` or `queryRunner.manager` after
 * `queryRunner.startTransaction()`. Works with TypeORM 0.3.x and 1.x.
 */
export function fromTypeOrm(manager: TypeOrmEntityManagerLike): Transaction {
  if (typeof manager !== 'object' || manager === null) {
    throw new NotInTransactionError(`fromTypeOrm() expects a TypeORM EntityManager. ${TRANSACTION_HELP}`);
  }
  if (isTypeOrmDataSource(manager)) {
    throw new NotInTransactionError(
      `fromTypeOrm() was given a DataSource, which is not a transaction. ${TRANSACTION_HELP}`,
    );
  }
  const assertActive = () => {
    const runner = manager.queryRunner;
    if (!runner) {
      throw new NotInTransactionError(
        `The EntityManager has no query runner, so it is not in a transaction (is it dataSource.manager?). ${TRANSACTION_HELP}`,
      );
    }
    if (runner.isReleased) {
      throw new NotInTransactionError('The EntityManager’s query runner was released; its transaction is over.');
    }
    if (!runner.isTransactionActive) {
      throw new NotInTransactionError(`The EntityManager is not inside an active transaction. ${TRANSACTION_HELP}`);
    }
  };
  assertActive();
  return {
    kind: 'txbox.transaction',
    driver: 'typeorm',
    assertActive,
    async query<R>(text: string, values: readonly unknown[] = [], _options: { name?: string } = {}) {
      // TypeORM's query runner has no named statements: the name is ignored.
      const runner = manager.queryRunner;
      if (!runner) throw new NotInTransactionError('The EntityManager lost its query runner.');
      const result = await runner.query(text, values as unknown[], true);
      const rows = (result.records ?? []) as R[];
      return { rows, rowCount: result.affected ?? rows.length };
    },
  };
}

export function isTransaction(value: unknown): value is Transaction {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'txbox.transaction';
}

/**
 * Adapts whatever the caller passed (a txbox Transaction, a pg client, a TypeORM
 * EntityManager) to a {@link Transaction}, refusing anything that is not one.
 */
export function toTransaction(handle: unknown): Transaction {
  if (isTransaction(handle)) {
    handle.assertActive();
    return handle;
  }
  // A Knex instance or transaction is a function: look for ORM shapes before refusing non-objects.
  const orm =
    typeof handle === 'function' || (typeof handle === 'object' && handle !== null)
      ? ormAdapterFor(handle as Record<string, unknown>)
      : undefined;
  if (orm) {
    throw new NotInTransactionError(
      `Got a ${orm.name} handle: txbox adapts it through ${orm.adapter} from ${orm.entry} (install @txbox/orm), e.g. \`outbox.add(${orm.adapter}(tx), message)\`.`,
    );
  }
  if (typeof handle !== 'object' || handle === null) {
    throw new NotInTransactionError(
      `Expected a transaction handle, got ${handle === null ? 'null' : typeof handle}. ${TRANSACTION_HELP}`,
    );
  }
  if (isTypeOrmDataSource(handle)) return fromTypeOrm(handle as TypeOrmEntityManagerLike);
  const h = handle as Record<string, unknown>;
  // An EntityManager has `connection`/`queryRunner` and no `getTransactionStatus`.
  if ('queryRunner' in h || (typeof h.connection === 'object' && typeof h.transaction === 'function')) {
    return fromTypeOrm(handle as TypeOrmEntityManagerLike);
  }
  return fromPg(handle as PgClientLike);
}

/**
 * Recognizes the handles of the ORMs `@txbox/orm` adapts, only to say which adapter to use (core
 * never adapts them itself: that would make every ORM's shape a concern of core).
 */
function ormAdapterFor(h: Record<string, unknown>): { name: string; adapter: string; entry: string } | undefined {
  if (typeof h.$executeRawUnsafe === 'function')
    return { name: 'Prisma', adapter: 'fromPrisma', entry: '@txbox/orm/prisma' };
  if (typeof h.selectFrom === 'function' && typeof h.executeQuery === 'function') {
    return { name: 'Kysely', adapter: 'fromKysely', entry: '@txbox/orm/kysely' };
  }
  if (typeof h.select === 'function' && typeof h.execute === 'function' && 'session' in h) {
    return { name: 'Drizzle', adapter: 'fromDrizzle', entry: '@txbox/orm/drizzle' };
  }
  if (typeof h.raw === 'function' && typeof h.schema === 'object' && typeof h.transaction === 'function') {
    return { name: 'Knex', adapter: 'fromKnex', entry: '@txbox/orm/knex' };
  }
  if (typeof h.getTransactionContext === 'function' && typeof h.fork === 'function') {
    return { name: 'MikroORM', adapter: 'fromMikroOrm', entry: '@txbox/orm/mikro-orm' };
  }
  return undefined;
}

/** A stable prepared-statement name for a SQL text (same text, same name, on any connection). */
export function statementName(text: string): string {
  return `txbox_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
