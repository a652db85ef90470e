import { randomUUID } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { NonRetryableError } from '@txbox/inbox';
import { TxboxOutbox } from '@txbox/nestjs';
import { OrderPlaced, OrderPlacedV1, orderKey } from '@txbox-examples/contracts';
import { DataSource, EntityManager } from 'typeorm';
import { Order, OrderHistory, type OrderStatus } from './entities.js';

export interface PlaceOrder {
  customerId: string;
  amountCents: number;
  currency: 'EUR' | 'USD' | 'GBP';
  /**
   * 1 writes the event as OrderPlaced v1, as an instance not yet upgraded would during a
   * rolling deploy (euros only); billing upcasts it to v2.
   */
  eventVersion: 1 | 2;
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly outbox: TxboxOutbox,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Saves the order and its OrderPlaced event in one transaction: both commit, or neither. */
  async place(input: PlaceOrder): Promise<{ orderId: string; messageId: string; status: OrderStatus }> {
    const id = randomUUID();
    return this.dataSource.transaction(async (manager) => {
      await manager.insert(Order, {
        id,
        customerId: input.customerId,
        amountCents: input.amountCents,
        currency: input.currency,
        status: 'pending',
      });
      const options = { key: orderKey(id) };
      const event =
        input.eventVersion === 1
          ? OrderPlacedV1.create({ orderId: id, customerId: input.customerId, totalCents: input.amountCents }, options)
          : OrderPlaced.create(
              {
                orderId: id,
                customerId: input.customerId,
                total: { amountCents: input.amountCents, currency: input.currency },
              },
              options,
            );
      const messageId = await this.outbox.add(manager, event);
      return { orderId: id, messageId, status: 'pending' };
    });
  }

  async find(id: string): Promise<{ order: Order; history: OrderHistory[] }> {
    const order = await this.dataSource.manager.findOneBy(Order, { id });
    if (!order) throw new NotFoundException(`no order ${id}`);
    const history = await this.dataSource.manager.find(OrderHistory, { where: { orderId: id }, order: { id: 'ASC' } });
    return { order, history };
  }

  /**
   * Moves a pending order to its final state, in the caller's transaction (the inbox's, when
   * called from a handler). Anything but a pending order means the saga went wrong: that is not
   * fixed by retrying, so the message goes to the dead-letter queue at once.
   */
  async settle(
    manager: EntityManager,
    change: { orderId: string; status: 'confirmed' | 'cancelled'; event: string; messageId: string; detail: string },
  ): Promise<void> {
    const result = await manager.update(Order, { id: change.orderId, status: 'pending' }, { status: change.status });
    if (result.affected !== 1) throw new NonRetryableError(`order ${change.orderId} is not pending`);
    await manager.insert(OrderHistory, {
      orderId: change.orderId,
      event: change.event,
      messageId: change.messageId,
      detail: change.detail,
    });
  }
}
