import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isMessageContract, NotInTransactionError, type OutgoingMessage } from '@txbox/core';
import { fromDrizzle } from '@txbox/orm/drizzle';
import { fromPrisma } from '@txbox/orm/prisma';
import { TxboxRuntime } from '../runtime/txbox-runtime.js';

interface TransactionHostLike {
  isTransactionActive(): boolean;
  readonly tx: unknown;
}

/**
 * The outbox, injectable. Pass the `EntityManager` of your transaction
 * (`dataSource.transaction(async (manager) => outbox.add(manager, message))`), or, with
 * `@nestjs-cls/transactional` installed and configured, call `add(message)` inside a
 * `@Transactional()` method and the ambient transaction is used: TypeORM's EntityManager, or the
 * Prisma / Drizzle transaction of their `@nestjs-cls/transactional` adapter (through `fromPrisma` /
 * `fromDrizzle` of `@txbox/orm`).
 */
@Injectable()
export class TxboxOutbox {
  #transactionHost: TransactionHostLike | null | undefined;

  constructor(
    @Inject(TxboxRuntime) private readonly runtime: TxboxRuntime,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  add(message: OutgoingMessage): Promise<string>;
  add(messages: readonly OutgoingMessage[]): Promise<string[]>;
  add(transaction: unknown, message: OutgoingMessage): Promise<string>;
  add(transaction: unknown, messages: readonly OutgoingMessage[]): Promise<string[]>;
  async add(first: unknown, second?: OutgoingMessage | readonly OutgoingMessage[]): Promise<string | string[]> {
    if (second === undefined && isOutgoing(first)) {
      const tx = await this.#ambientTransaction();
      return this.runtime.writer.add(tx, first as never);
    }
    return this.runtime.writer.add(first, second as never);
  }

  async #ambientTransaction(): Promise<unknown> {
    const host = await this.#host();
    if (!host) {
      throw new NotInTransactionError(
        'TxboxOutbox.add(message) without a transaction needs @nestjs-cls/transactional (ClsModule with ClsPluginTransactional). ' +
          'Otherwise pass the EntityManager: dataSource.transaction((manager) => outbox.add(manager, message)).',
      );
    }
    if (!host.isTransactionActive()) {
      throw new NotInTransactionError(
        'TxboxOutbox.add(message) was called outside a @Transactional() method: there is no ambient transaction to write in.',
      );
    }
    return adaptAmbient(host.tx);
  }

  async #host(): Promise<TransactionHostLike | null> {
    if (this.#transactionHost !== undefined) return this.#transactionHost;
    try {
      const { TransactionHost } = await import('@nestjs-cls/transactional');
      this.#transactionHost = this.moduleRef.get(TransactionHost, { strict: false }) as TransactionHostLike;
    } catch {
      this.#transactionHost = null;
    }
    return this.#transactionHost;
  }
}

/**
 * The ambient transaction as txbox's writer takes it. The writer accepts a TypeORM EntityManager
 * itself; the Prisma and Drizzle transactions go through their `@txbox/orm` adapters (typed by
 * shape: they load no ORM).
 */
function adaptAmbient(tx: unknown): unknown {
  if (typeof tx !== 'object' || tx === null) return tx;
  const t = tx as Record<string, unknown>;
  // Prisma's interactive-transaction client: raw queries, no $connect (the PrismaClient has it).
  if (typeof t.$queryRawUnsafe === 'function') return fromPrisma(tx as never);
  // Drizzle's PgTransaction: rollback() and setTransaction(), which the database has not.
  if (typeof t.rollback === 'function' && typeof t.setTransaction === 'function') return fromDrizzle(tx as never);
  return tx;
}

function isOutgoing(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.every(isOutgoing);
  return typeof value === 'object' && value !== null && isMessageContract((value as { contract?: unknown }).contract);
}
