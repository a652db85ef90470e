import { Injectable } from '@nestjs/common';
import type { PayloadOf } from '@txbox/core';
import { type HandlerContext, OnMessage } from '@txbox/nestjs';
import { PaymentFailed, PaymentSucceeded } from '@txbox-examples/contracts';
import type { EntityManager } from 'typeorm';
import { OrdersService } from './orders.service.js';

/**
 * The end of the saga in the orders service. Both handlers belong to the module's
 * `defaultGroup` ("orders") and run in the inbox's transaction: `ctx.manager` is a TypeORM
 * EntityManager on it, so the order update and the deduplication record commit together.
 */
@Injectable()
export class PaymentEventsHandler {
  constructor(private readonly orders: OrdersService) {}

  @OnMessage(PaymentSucceeded)
  async confirm(payment: PayloadOf<typeof PaymentSucceeded>, ctx: HandlerContext): Promise<void> {
    await this.orders.settle(ctx.manager as EntityManager, {
      orderId: payment.orderId,
      status: 'confirmed',
      event: PaymentSucceeded.type,
      messageId: ctx.envelope.id,
      detail: `payment ${payment.paymentId}`,
    });
  }

  /** The compensation: the payment was declined, so the order is cancelled. */
  @OnMessage(PaymentFailed)
  async cancel(payment: PayloadOf<typeof PaymentFailed>, ctx: HandlerContext): Promise<void> {
    await this.orders.settle(ctx.manager as EntityManager, {
      orderId: payment.orderId,
      status: 'cancelled',
      event: PaymentFailed.type,
      messageId: ctx.envelope.id,
      detail: payment.reason,
    });
  }
}
