import { Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { TxboxModule } from '@txbox/nestjs';
import { ClsModule } from 'nestjs-cls';
import { OrderPlaced } from './contracts';
import { LedgerEntry, Order } from './entities';
import { LedgerService, OrdersService, PaymentsHandler } from './orders';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: env('DATABASE_URL'),
      schema: env('COMPAT_SCHEMA'),
      entities: [Order, LedgerEntry],
      synchronize: true,
    }),
    ClsModule.forRoot({
      global: true,
      middleware: { mount: true },
      plugins: [
        new ClsPluginTransactional({
          imports: [TypeOrmModule],
          adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() }),
        }),
      ],
    }),
    TxboxModule.forRootAsync({
      isGlobal: true,
      useFactory: () => ({
        contracts: [OrderPlaced],
        amqpUrl: env('AMQP_URL'),
        schema: env('COMPAT_SCHEMA'),
        exchange: env('COMPAT_EXCHANGE'),
        waitForBroker: { timeoutMs: 10_000 },
        relay: { pollIntervalMs: 200 },
        consumers: { defaults: { retry: { delaysMs: [200], maxAttempts: 3 } } },
      }),
    }),
  ],
  providers: [OrdersService, LedgerService, PaymentsHandler],
})
export class AppModule {}
