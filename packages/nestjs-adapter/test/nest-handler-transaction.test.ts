import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Transactional, TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import type { PayloadOf } from '@txbox/core';
import { groupTopology } from '@txbox/inbox';
import { type HandlerContext, OnMessage, TxboxAdmin, TxboxModule, TxboxOutbox } from '@txbox/nestjs';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { clsTransactionalModule, publishAgain } from './app/cls.js';
import { OrderPlaced } from './app/contracts.js';

const { schema, pool, databaseUrl } = useTestSchema('nest_handler_tx');
const amqp = useAmqp();
const exchange = uniqueName('nest_tx_events');
const group = uniqueName('nest_tx_ledger');

/** No unique constraint: a write applied twice shows as two rows. */
@Entity({ name: 'ledger' })
class LedgerEntry {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  orderId!: string;
}

/** What the handler saw, per attempt. */
const seen: Array<{ attempt: number; joined: boolean; sameManager: boolean; visibleOutside: number }> = [];

@Injectable()
class LedgerService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  // An ordinary service method marked @Transactional(): from a handler, it must join the
  // inbox's transaction rather than commit a transaction of its own.
  @Transactional()
  async record(orderId: string): Promise<void> {
    await this.txHost.tx.getRepository(LedgerEntry).save({ orderId });
  }
}

@Injectable()
class LedgerHandlers {
  constructor(
    private readonly ledger: LedgerService,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
  ) {}

  @OnMessage(OrderPlaced)
  async onOrderPlaced(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext): Promise<void> {
    await this.ledger.record(order.orderId);
    const outside = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".ledger WHERE "orderId" = $1`, [
      order.orderId,
    ]);
    seen.push({
      attempt: ctx.attempt,
      joined: this.txHost.isTransactionActive(),
      sameManager: this.txHost.tx === ctx.manager,
      visibleOutside: outside.rows[0].n,
    });
    // The first attempt fails after the service wrote: its write must go with the inbox's rollback.
    if (ctx.attempt === 1) throw new Error('payment provider timed out');
  }
}

@Injectable()
class Checkout {
  constructor(private readonly outbox: TxboxOutbox) {}

  @Transactional()
  place(orderId: string): Promise<string> {
    return this.outbox.add(OrderPlaced.create({ orderId, totalCents: 100 }));
  }
}

@Module({ providers: [LedgerService, LedgerHandlers, Checkout] })
class LedgerModule {}

let app: Awaited<ReturnType<typeof boot>>;

async function boot() {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ type: 'postgres', url: databaseUrl, schema, entities: [LedgerEntry], synchronize: true }),
      clsTransactionalModule(),
      TxboxModule.forRoot({
        isGlobal: true,
        contracts: [OrderPlaced],
        amqpUrl: testAmqpUrl(),
        schema,
        exchange,
        defaultGroup: group,
        relay: { pollIntervalMs: 200 },
        consumers: { defaults: { retry: { delaysMs: [200], maxAttempts: 3 } } },
      }),
      LedgerModule,
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
  const topology = groupTopology({ group, exchange, retryDelaysMs: [200], bindings: [], queueType: 'classic' });
  await deleteTopology(amqp.channel, topology);
});

async function ledgerRows(orderId: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".ledger WHERE "orderId" = $1`, [
    orderId,
  ]);
  return rows[0].n;
}

describe('@OnMessage handlers run in the inbox transaction as the ambient CLS transaction', () => {
  it('a @Transactional() service called by a failing handler is rolled back with it; the retry applies it once', async () => {
    const messageId = await app.get(Checkout).place('ledger-1');
    await waitUntil('the retried delivery to succeed', () => seen.some((s) => s.attempt === 2));
    // The service joined the inbox transaction: the same EntityManager, not a second transaction.
    expect(seen.map(({ attempt, joined, sameManager }) => ({ attempt, joined, sameManager }))).toEqual([
      { attempt: 1, joined: true, sameManager: true },
      { attempt: 2, joined: true, sameManager: true },
    ]);
    // Not committed before the handler finished (a second transaction would have been visible).
    expect(seen.map((s) => s.visibleOutside)).toEqual([0, 0]);
    const admin = app.get(TxboxAdmin);
    await waitUntil('the inbox record', async () => (await admin.stats()).consumers[0]?.processed === 1);
    expect(await ledgerRows('ledger-1')).toBe(1);
    // A redelivery of the same id is skipped by the inbox: the service's write stays applied once.
    publishAgain(amqp.channel, exchange, {
      id: messageId,
      type: OrderPlaced.type,
      payload: { orderId: 'ledger-1', totalCents: 100 },
    });
    await waitUntil('the duplicate skipped', async () => (await admin.stats()).consumers[0]?.duplicatesSkipped === 1);
    expect(await ledgerRows('ledger-1')).toBe(1);
    expect(seen).toHaveLength(2);
  });

  it('outside a handler, TransactionHost is back to no transaction', async () => {
    const host = app.get(TransactionHost);
    expect(host.isTransactionActive()).toBe(false);
    expect(host.tx).toBe(app.get(DataSource).manager);
  });
});
