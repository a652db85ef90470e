import { Injectable, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { PayloadOf } from '@txbox/core';
import { type HandlerContext, OnMessage } from '@txbox/nestjs';
import { Column, CreateDateColumn, Entity, type EntityManager, PrimaryGeneratedColumn } from 'typeorm';
import { OrderPlaced } from './contracts.js';

/** No unique constraint on orderId: a double application would show as two rows. */
@Entity({ name: 'charges' })
export class Charge {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  orderId!: string;

  @Column('int')
  amountCents!: number;

  @Column()
  messageId!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

@Injectable()
export class FeePolicy {
  feeFor(totalCents: number): number {
    return Math.round(totalCents * 0.02);
  }
}

export const handled: string[] = [];

@Injectable()
export class BillingHandlers {
  // Injected by type, like any Nest provider.
  constructor(private readonly fees: FeePolicy) {}

  @OnMessage(OrderPlaced)
  async charge(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext) {
    handled.push(ctx.envelope.id);
    const manager = ctx.manager as EntityManager;
    await manager.save(Charge, {
      orderId: order.orderId,
      amountCents: order.totalCents + this.fees.feeFor(order.totalCents),
      messageId: ctx.envelope.id,
    });
  }
}

@Module({
  imports: [TypeOrmModule.forFeature([Charge])],
  providers: [FeePolicy, BillingHandlers],
})
export class BillingModule {}
