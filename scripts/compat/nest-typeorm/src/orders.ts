import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Transactional, TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import type { PayloadOf } from '@txbox/core';
import { type HandlerContext, OnMessage, TxboxOutbox } from '@txbox/nestjs';
import { DataSource } from 'typeorm';
import { OrderPlaced } from './contracts';
import { LedgerEntry, Order } from './entities';

/** What each handler attempt saw: the inbox transaction joined, the ledger row not yet visible outside it. */
export const attempts: Array<{ attempt: number; joined: boolean; visibleOutside: number }> = [];

@Injectable()
export class OrdersService {
  constructor(
    private readonly outbox: TxboxOutbox,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  place(id: string, totalCents: number): Promise<string> {
    return this.dataSource.transaction(async (manager) => {
      await manager.getRepository(Order).insert({ id, totalCents });
      return this.outbox.add(manager, OrderPlaced.create({ orderId: id, totalCents }, { key: `order:${id}` }));
    });
  }
}

@Injectable()
export class LedgerService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  @Transactional()
  async record(orderId: string): Promise<void> {
    await this.txHost.tx.getRepository(LedgerEntry).insert({ orderId });
  }
}

@Injectable()
export class PaymentsHandler {
  constructor(
    private readonly ledger: LedgerService,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @OnMessage(OrderPlaced, { group: process.env.COMPAT_GROUP ?? 'compat' })
  async charge(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext): Promise<void> {
    await this.ledger.record(order.orderId);
    const outside = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM "${process.env.COMPAT_SCHEMA}".ledger WHERE "orderId" = $1`,
      [order.orderId],
    );
    attempts.push({
      attempt: ctx.attempt,
      joined: this.txHost.tx === ctx.manager,
      visibleOutside: outside[0].n,
    });
    // The first attempt fails after the @Transactional() write: it must roll back with the inbox.
    if (ctx.attempt === 1) throw new Error('first attempt fails on purpose');
  }
}
