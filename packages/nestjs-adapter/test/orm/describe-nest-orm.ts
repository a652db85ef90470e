// The same NestJS app on each ORM that has a `@nestjs-cls/transactional` adapter: a consumer
// group with the ORM's `@txbox/orm` session, a `@Transactional()` service writing through the
// ORM, and `TxboxOutbox.add(message)` in the ambient ORM transaction. Only how the ORM is opened
// and how a row is written differ per ORM.
import 'reflect-metadata';
import { Global, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClsPluginTransactional, Transactional, TransactionHost } from '@nestjs-cls/transactional';
import type { PayloadOf, SessionFactory } from '@txbox/core';
import { groupTopology } from '@txbox/inbox';
import { type HandlerContext, OnMessage, TxboxAdmin, TxboxModule, TxboxOutbox } from '@txbox/nestjs';
import { ClsModule } from 'nestjs-cls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import { publishAgain } from '../app/cls.js';
import { OrderPlaced } from '../app/contracts.js';

/** The token the ORM client is provided under, for the adapter's `…InjectionToken`/`…InstanceToken`. */
export const ORM_CLIENT = Symbol('ORM_CLIENT');

export interface NestOrmUnderTest {
  open(
    databaseUrl: string,
    schema: string,
  ): Promise<{
    client: object;
    /** The `@nestjs-cls/transactional` adapter, on `ORM_CLIENT`. */
    adapter: ConstructorParameters<typeof ClsPluginTransactional>[0]['adapter'];
    session: SessionFactory;
    /** Writes one row of `effects` through the ORM, in `tx` (the host's `tx`). */
    writeEffect(tx: unknown, orderId: string): Promise<void>;
    close(): Promise<void>;
  }>;
}

export function describeNestOrm(name: string, orm: NestOrmUnderTest): void {
  const { schema, pool, databaseUrl } = useTestSchema(`nest_${name}`);
  const amqp = useAmqp();
  const exchange = uniqueName(`nest_${name}_events`);
  const group = uniqueName(`nest_${name}_ledger`);
  let opened: Awaited<ReturnType<NestOrmUnderTest['open']>>;
  const seen: Array<{ orderId: string; attempt: number; joined: boolean; sameTx: boolean; visibleOutside: number }> =
    [];

  @Injectable()
  class LedgerService {
    constructor(private readonly txHost: TransactionHost) {}

    @Transactional()
    async record(orderId: string): Promise<void> {
      await opened.writeEffect(this.txHost.tx, orderId);
    }
  }

  @Injectable()
  class LedgerHandlers {
    constructor(
      private readonly ledger: LedgerService,
      private readonly txHost: TransactionHost,
    ) {}

    @OnMessage(OrderPlaced)
    async onOrderPlaced(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext): Promise<void> {
      await this.ledger.record(order.orderId);
      seen.push({
        orderId: order.orderId,
        attempt: ctx.attempt,
        joined: this.txHost.isTransactionActive(),
        sameTx: this.txHost.tx === ctx.tx,
        visibleOutside: await effects(order.orderId),
      });
      // The first attempt fails after the service wrote: its write must go with the inbox's rollback.
      if (ctx.attempt === 1) throw new Error('payment provider timed out');
    }
  }

  @Injectable()
  class Checkout {
    constructor(private readonly outbox: TxboxOutbox) {}

    @Transactional()
    async place(orderId: string, fail = false): Promise<string> {
      const id = await this.outbox.add(OrderPlaced.create({ orderId, totalCents: 100 }));
      if (fail) throw new Error('checkout rolled back');
      return id;
    }
  }

  async function effects(orderId: string): Promise<number> {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".effects WHERE message_id = $1`, [
      orderId,
    ]);
    return rows[0].n;
  }

  let app: Awaited<ReturnType<typeof boot>>;
  let committedId = '';

  async function boot() {
    @Global()
    @Module({ providers: [{ provide: ORM_CLIENT, useValue: opened.client }], exports: [ORM_CLIENT] })
    class OrmModule {}

    @Module({ providers: [LedgerService, LedgerHandlers, Checkout] })
    class LedgerModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        OrmModule,
        ClsModule.forRoot({
          global: true,
          plugins: [new ClsPluginTransactional({ imports: [OrmModule], adapter: opened.adapter })],
        }),
        TxboxModule.forRoot({
          isGlobal: true,
          contracts: [OrderPlaced],
          amqpUrl: testAmqpUrl(),
          database: { url: databaseUrl },
          schema,
          exchange,
          defaultGroup: group,
          relay: { pollIntervalMs: 200 },
          consumers: {
            defaults: { retry: { delaysMs: [200], maxAttempts: 3 } },
            groups: { [group]: { session: opened.session } },
          },
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
    // No unique constraint: a write applied twice shows as two rows.
    await pool.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".effects (id bigserial PRIMARY KEY, message_id text NOT NULL, info text)`,
    );
    opened = await orm.open(databaseUrl, schema);
    app = await boot();
  });
  afterAll(async () => {
    await app?.close();
    await opened?.close();
    const topology = groupTopology({ group, exchange, retryDelaysMs: [200], bindings: [], queueType: 'classic' });
    await deleteTopology(amqp.channel, topology);
  });

  describe(`NestJS with the ${name} adapter of @nestjs-cls/transactional`, () => {
    it('TxboxOutbox.add(message) in a @Transactional() method is published on commit, never on rollback', async () => {
      const checkout = app.get(Checkout);
      await expect(checkout.place('rolled-back', true)).rejects.toThrow('checkout rolled back');
      committedId = await checkout.place('committed');
      await waitUntil('the committed message handled', () => seen.some((s) => s.orderId === 'committed'));
      // The rolled-back message was written first: published, it would have been handled first.
      expect(new Set(seen.map((s) => s.orderId))).toEqual(new Set(['committed']));
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM "${schema}".outbox WHERE payload->>'orderId' = $1`,
        ['rolled-back'],
      );
      expect(rows[0].n).toBe(0);
    });

    it('a @Transactional() service called by a failing handler joins the inbox transaction and is rolled back with it; the retry applies it once', async () => {
      await waitUntil('the retried delivery to succeed', () =>
        seen.some((s) => s.orderId === 'committed' && s.attempt === 2),
      );
      // The service joined the inbox's ORM transaction (ctx.tx), not a second transaction.
      expect(seen.map(({ orderId, attempt, joined, sameTx }) => ({ orderId, attempt, joined, sameTx }))).toEqual([
        { orderId: 'committed', attempt: 1, joined: true, sameTx: true },
        { orderId: 'committed', attempt: 2, joined: true, sameTx: true },
      ]);
      // Not committed before the handler finished (a second transaction would have been visible).
      expect(seen.map((s) => s.visibleOutside)).toEqual([0, 0]);
      const admin = app.get(TxboxAdmin);
      await waitUntil('the inbox record', async () => (await admin.stats()).consumers[0]?.processed === 1);
      expect(await effects('committed')).toBe(1);
      publishAgain(amqp.channel, exchange, {
        id: committedId,
        type: OrderPlaced.type,
        payload: { orderId: 'committed', totalCents: 100 },
      });
      await waitUntil('the duplicate skipped', async () => (await admin.stats()).consumers[0]?.duplicatesSkipped === 1);
      expect(await effects('committed')).toBe(1);
      expect(seen).toHaveLength(2);
    });
  });
}
