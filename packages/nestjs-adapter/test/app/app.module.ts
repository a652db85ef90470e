import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TxboxModule } from '@txbox/nestjs';
import { BillingModule, Charge } from './billing.js';
import { OrderPlaced } from './contracts.js';
import { Order, OrdersModule } from './orders.js';

export interface AppSettings {
  databaseUrl: string;
  amqpUrl: string;
  schema: string;
  exchange: string;
  /** Consumer group of the billing handlers (the module's defaultGroup). */
  group: string;
}

/** The e2e application: orders (HTTP + outbox) and billing (an @OnMessage handler), one process. */
@Module({})
export class AppModule {
  static register(settings: AppSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [
            () => ({
              TXBOX_AMQP_URL: settings.amqpUrl,
              TXBOX_SCHEMA: settings.schema,
              TXBOX_EXCHANGE: settings.exchange,
            }),
          ],
        }),
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: settings.databaseUrl,
          schema: settings.schema,
          entities: [Order, Charge],
          synchronize: true,
        }),
        TxboxModule.forRootAsync({
          isGlobal: true,
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            contracts: [OrderPlaced],
            amqpUrl: config.getOrThrow<string>('TXBOX_AMQP_URL'),
            schema: config.getOrThrow<string>('TXBOX_SCHEMA'),
            exchange: config.getOrThrow<string>('TXBOX_EXCHANGE'),
            defaultGroup: settings.group,
            relay: { pollIntervalMs: 200 },
            consumers: { defaults: { concurrency: 4, retry: { delaysMs: [200] } } },
          }),
        }),
        OrdersModule,
        BillingModule,
      ],
    };
  }
}
