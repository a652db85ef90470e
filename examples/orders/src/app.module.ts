import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TxboxModule } from '@txbox/nestjs';
import { OrderPlaced } from '@txbox-examples/contracts';
import { dataSourceOptions } from './data-source.js';
import { Order, OrderHistory } from './entities.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { PaymentEventsHandler } from './payment-events.handler.js';
import { ORDERS_GROUP, ORDERS_RETRY_DELAYS_MS, type OrdersSettings, readOrdersSettings } from './settings.js';

@Module({
  imports: [TypeOrmModule.forFeature([Order, OrderHistory])],
  controllers: [OrdersController],
  providers: [OrdersService, PaymentEventsHandler],
})
export class OrdersModule {}

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ orders: readOrdersSettings() })] }),
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => dataSourceOptions(config.getOrThrow<OrdersSettings>('orders').databaseUrl),
    }),
    // Uses the default TypeORM DataSource above: the injectable outbox writes through the
    // EntityManager you pass, and the handlers get `ctx.manager` on the inbox's transaction.
    TxboxModule.forRootAsync({
      isGlobal: true, // TxboxOutbox, TxboxAdmin and TxboxHealthIndicator injectable everywhere
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const settings = config.getOrThrow<OrdersSettings>('orders');
        return {
          contracts: [OrderPlaced], // its v1 comes along through the upcaster
          amqpUrl: settings.amqpUrl,
          exchange: settings.exchange,
          runMigrations: false, // the TypeORM migrations own the schema: `npm run migrate`
          defaultGroup: ORDERS_GROUP,
          // Short lease (a dead instance's claims are retried after 5 s); keep published rows
          // so the demo can count and replay them.
          relay: { leaseMs: 5000, publishTimeoutMs: 2000, published: 'keep' },
          consumers: { defaults: { concurrency: 4, retry: { delaysMs: ORDERS_RETRY_DELAYS_MS } } },
        };
      },
    }),
    OrdersModule,
  ],
})
export class AppModule {}
