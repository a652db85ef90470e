import { Body, Controller, HttpCode, Injectable, Module, Post } from '@nestjs/common';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { TxboxOutbox } from '@txbox/nestjs';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { OrderPlaced } from './contracts.js';

@Entity({ name: 'orders' })
export class Order {
  @PrimaryColumn()
  id!: string;

  @Column('int')
  totalCents!: number;
}

export class PlaceOrderDto {
  id!: string;
  totalCents!: number;
  /** Makes the transaction fail after the outbox write, to prove nothing is published. */
  failAfterWrite?: boolean;
}

@Injectable()
export class OrdersService {
  // Injected by type: this only works if decorator metadata survived the test transform.
  constructor(
    private readonly outbox: TxboxOutbox,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async place(dto: PlaceOrderDto): Promise<{ orderId: string; messageId: string }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.save(Order, { id: dto.id, totalCents: dto.totalCents });
      const messageId = await this.outbox.add(
        manager,
        OrderPlaced.create({ orderId: dto.id, totalCents: dto.totalCents }, { key: `order:${dto.id}` }),
      );
      if (dto.failAfterWrite) throw new Error('payment gateway refused the order');
      return { orderId: dto.id, messageId };
    });
  }
}

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @HttpCode(201)
  place(@Body() dto: PlaceOrderDto) {
    return this.orders.place(dto);
  }
}

@Module({
  imports: [TypeOrmModule.forFeature([Order])],
  controllers: [OrdersController],
  providers: [OrdersService],
})
export class OrdersModule {}
