// Makes the inbox's transaction the ambient transaction of `@nestjs-cls/transactional` while an
// @OnMessage handler runs. Without it, a `@Transactional()` service called from a handler opens
// a second transaction on another connection: its writes commit even when the handler then
// fails, and a redelivery applies them again — exactly-once lost without a sign. With it, the
// default propagation (`Required`) and `TransactionHost.tx` find the inbox's EntityManager and
// join it, so they commit or roll back with the inbox record.
import { ConfigurationError, type TxboxLogger } from '@txbox/core';

/** The parts of `TransactionHost` (3.x) this file uses. */
interface TransactionHostLike {
  readonly tx: unknown;
  /** Private in the typings, but the one place that also fills the transaction proxy. */
  setTxInstance?: (tx: unknown) => void;
}

interface ClsServiceLike {
  run<T>(options: { ifNested: 'override' }, fn: () => T): T;
}

/** Runs `fn` with `manager` as the ambient transaction of every host bound to the group's DataSource. */
export type AmbientTransaction = <T>(manager: object | undefined, fn: () => Promise<T>) => Promise<T>;

/** Runs `fn` as is: no CLS transactional plugin, or none on this group's database. */
export const noAmbientTransaction: AmbientTransaction = (_manager, fn) => fn();

/**
 * The joiner for one consumer group. `dataSource` is the TypeORM DataSource the group's handler
 * transactions run on (undefined for a `pg` pool: the TypeORM adapter cannot use a pg client).
 * Resolved once at bootstrap, so a version of the plugin that cannot be joined fails the start
 * instead of silently opening second transactions.
 */
export async function ambientTransactionFor(options: {
  group: string;
  dataSource: object | undefined;
  hostFromContainer: (token: unknown) => unknown;
  logger: TxboxLogger;
}): Promise<AmbientTransaction> {
  const plugin = await loadPlugin();
  if (!plugin) return noAmbientTransaction;
  const hosts = plugin.hosts(options.hostFromContainer);
  if (hosts.length === 0) return noAmbientTransaction;
  const cls = plugin.cls;
  // A host's `tx` outside any transaction is its adapter's fallback: `dataSource.manager` for
  // the TypeORM adapter, which names the DataSource the host opens transactions on.
  const bound = hosts.filter((host) => {
    const fallback = cls.run({ ifNested: 'override' }, () => host.tx) as { connection?: unknown } | undefined;
    return options.dataSource !== undefined && fallback?.connection === options.dataSource;
  });
  if (bound.length === 0) {
    options.logger.warn(
      'The @nestjs-cls/transactional hosts are not on this group’s TypeORM DataSource: @Transactional() services called from its handlers open their own transaction, outside the inbox’s',
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
  return (manager, fn) => {
    if (!manager) return fn();
    // A fresh CLS context per handler: nothing leaks between deliveries running side by side.
    return cls.run({ ifNested: 'override' }, () => {
      for (const host of bound) host.setTxInstance?.(manager);
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
