// Makes the inbox's transaction the ambient transaction of `@nestjs-cls/transactional` while an
// @OnMessage handler runs. Without it, a `@Transactional()` service called from a handler opens
// a second transaction on another connection: its writes commit even when the handler then
// fails, and a redelivery applies them again — exactly-once lost without a sign. With it, the
// default propagation (`Required`) and `TransactionHost.tx` find the inbox's transaction (the
// EntityManager, or with an `@txbox/orm` session the ORM's transaction) and join it, so they
// commit or roll back with the inbox record.
import { ConfigurationError, type SessionFactory, type TxboxLogger } from '@txbox/core';

/** The parts of `TransactionHost` (3.x) this file uses. */
interface TransactionHostLike {
  readonly tx: unknown;
  /** Private in the typings, but the one place that also fills the transaction proxy. */
  setTxInstance?: (tx: unknown) => void;
}

interface ClsServiceLike {
  run<T>(options: { ifNested: 'override' }, fn: () => T): T;
}

/** Runs `fn` with `tx` as the ambient transaction of every host bound to the group's database. */
export type AmbientTransaction = <T>(tx: object | undefined, fn: () => Promise<T>) => Promise<T>;

/** Runs `fn` as is: no CLS transactional plugin, or none on this group's database. */
export const noAmbientTransaction: AmbientTransaction = (_manager, fn) => fn();

/**
 * Which host's fallback (its `tx` outside a transaction: the ORM client it opens transactions
 * on) belongs to an `@txbox/orm` session of this driver. Only ORMs with a
 * `@nestjs-cls/transactional` adapter are listed.
 */
const FALLBACK_OF: Record<string, (fallback: Record<string, unknown>) => boolean> = {
  // @nestjs-cls/transactional-adapter-prisma: the PrismaClient.
  prisma: (f) => typeof f.$transaction === 'function' && typeof f.$connect === 'function',
  // @nestjs-cls/transactional-adapter-drizzle-orm: the Drizzle database (`drizzle(pool)`).
  drizzle: (f) => typeof f.transaction === 'function' && '$client' in f,
};

/**
 * The joiner for one consumer group. `dataSource` is the TypeORM DataSource the group's handler
 * transactions run on (undefined for a `pg` pool: the TypeORM adapter cannot use a pg client);
 * `session` the group's `@txbox/orm` session, whose ORM's host joins instead. Resolved once at
 * bootstrap, so a version of the plugin that cannot be joined fails the start instead of
 * silently opening second transactions.
 */
export async function ambientTransactionFor(options: {
  group: string;
  dataSource: object | undefined;
  session?: SessionFactory | undefined;
  hostFromContainer: (token: unknown) => unknown;
  logger: TxboxLogger;
}): Promise<AmbientTransaction> {
  const plugin = await loadPlugin();
  if (!plugin) return noAmbientTransaction;
  const hosts = plugin.hosts(options.hostFromContainer);
  if (hosts.length === 0) return noAmbientTransaction;
  const cls = plugin.cls;
  // A host's `tx` outside any transaction is its adapter's fallback: `dataSource.manager` for
  // the TypeORM adapter (it names the DataSource the host opens transactions on), the ORM
  // client for the others.
  const session = options.session;
  const ofSession = session ? FALLBACK_OF[session.driver] : undefined;
  const bound = hosts.filter((host) => {
    const fallback = cls.run({ ifNested: 'override' }, () => host.tx) as Record<string, unknown> | undefined;
    if (typeof fallback !== 'object' || fallback === null) return false;
    if (session) return ofSession?.(fallback) ?? false;
    return options.dataSource !== undefined && fallback.connection === options.dataSource;
  });
  const on = session ? `${session.driver} session` : 'TypeORM DataSource';
  if (bound.length === 0) {
    options.logger.warn(
      `The @nestjs-cls/transactional hosts are not on this group’s ${on}: @Transactional() services called from its handlers open their own transaction, outside the inbox’s`,
      { group: options.group },
    );
    return noAmbientTransaction;
  }
  if (session && bound.length > 1) {
    // Two clients of one ORM (two Prisma clients, two Drizzle databases): which one the session
    // opens transactions on is not visible from here, and joining the wrong one would hand a
    // service the other database's transaction.
    options.logger.warn(
      `Several @nestjs-cls/transactional hosts use ${session.driver}: the inbox's transaction is not made ambient for any of them (give this group a host of its own ORM client, or one ${session.driver} host)`,
      { group: options.group },
    );
    return noAmbientTransaction;
  }
  for (const host of bound) {
    if (typeof host.setTxInstance !== 'function') {
      throw new ConfigurationError(
        'TxboxModule',
        'this version of @nestjs-cls/transactional offers no way to hand a handler the inbox transaction; use @nestjs-cls/transactional 3.x',
      );
    }
  }
  return (tx, fn) => {
    if (!tx) return fn();
    // A fresh CLS context per handler: nothing leaks between deliveries running side by side.
    return cls.run({ ifNested: 'override' }, () => {
      for (const host of bound) host.setTxInstance?.(tx);
      return fn();
    });
  };
}

async function loadPlugin(): Promise<
  { cls: ClsServiceLike; hosts: (fromContainer: (token: unknown) => unknown) => TransactionHostLike[] } | undefined
> {
  let transactional: typeof import('@nestjs-cls/transactional');
  let nestjsCls: typeof import('nestjs-cls');
  try {
    transactional = await import('@nestjs-cls/transactional');
    nestjsCls = await import('nestjs-cls');
  } catch {
    return undefined;
  }
  const { TransactionHost } = transactional;
  return {
    cls: nestjsCls.ClsServiceManager.getClsService() as unknown as ClsServiceLike,
    hosts: (fromContainer) => {
      const found = new Set<TransactionHostLike>();
      // Every host the plugin registered (one per connectionName), as TransactionHost.getInstance reads them.
      const all = (TransactionHost as unknown as { _instanceMap?: unknown })._instanceMap;
      if (all instanceof Map) for (const host of all.values()) found.add(host as TransactionHostLike);
      const injected = fromContainer(TransactionHost);
      if (injected) found.add(injected as TransactionHostLike);
      return [...found];
    },
  };
}
