import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Transactional, TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { TxboxModule, TxboxOutbox } from '@txbox/nestjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, useTestSchema } from '../../../test-support/index.js';
import { clsTransactionalModule } from './app/cls.js';
import { OrderPlaced } from './app/contracts.js';
import { Order } from './app/orders.js';

const { schema, pool, databaseUrl } = useTestSchema('nest_cls');

@Injectable()
class CheckoutService {
  constructor(
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    private readonly outbox: TxboxOutbox,
  ) {}

  @Transactional()
  async place(id: string, fail = false) {
    await this.txHost.tx.save(Order, { id, totalCents: 100 });
    await this.outbox.add(OrderPlaced.create({ orderId: id, totalCents: 100 })); // no handle: the ambient transaction
    if (fail) throw new Error('rolled back');
  }

  async placeWithoutTransaction(id: string) {
    await this.outbox.add(OrderPlaced.create({ orderId: id, totalCents: 100 }));
  }
}

@Module({ providers: [CheckoutService] })
class CheckoutModule {}

let app: Awaited<ReturnType<typeof boot>>;

async function boot() {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ type: 'postgres', url: databaseUrl, schema, entities: [Order], synchronize: true }),
      clsTransactionalModule(),
      // An API-only instance: it writes to the outbox, another instance relays and consumes.
      TxboxModule.forRoot({
        isGlobal: true,
        contracts: [OrderPlaced],
        amqpUrl: testAmqpUrl(),
        schema,
        relay: false,
        consumers: false,
      }),
      CheckoutModule,
    ],
  }).compile();
  const nest = moduleRef.createNestApplication({ logger: ['error'] });
  await nest.init();
  return nest;
}

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  app = await boot();
});
afterAll(async () => {
  await app?.close();
});

describe('ambient transactions with @nestjs-cls/transactional', () => {
  it('outbox.add(message) inside @Transactional() writes in that transaction, and rolls back with it', async () => {
    const checkout = app.get(CheckoutService);
    await checkout.place('cls-1');
    await expect(checkout.place('cls-2', true)).rejects.toThrow('rolled back');
    const { rows } = await pool.query(`SELECT payload->>'orderId' AS id FROM "${schema}".outbox ORDER BY seq`);
    expect(rows.map((r) => r.id)).toEqual(['cls-1']);
  });

  it('outbox.add(message) outside any transaction is refused with a clear error', async () => {
    await expect(app.get(CheckoutService).placeWithoutTransaction('cls-3')).rejects.toMatchObject({
      code: 'NOT_IN_TRANSACTION',
      message: expect.stringContaining('@Transactional()'),
    });
  });
});
