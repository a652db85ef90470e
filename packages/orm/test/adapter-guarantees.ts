// The one guarantee suite every ORM adapter runs (each adapter's test file only says how to open,
// commit and roll back its ORM's transactions): publish if and only if the transaction commits,
// refusal of a handle that is not in an open transaction, and, for the consumer, handler effects
// applied once per message id and rolled back with a failing handler.
import { randomUUID } from 'node:crypto';
import { NonRetryableError, NotInTransactionError, type SessionFactory, type Transaction } from '@txbox/core';
import {
  createConsumer,
  defineHandler,
  type HandlerRegistration,
  type InboxConsumer,
  migrateInbox,
} from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { createEffectsTable, effectCounts, PaymentRequested, publishEnvelope } from '../../inbox/test/fixtures.js';
import { OrderPlaced, outboxRowCount } from '../../outbox/test/fixtures.js';

/** How one ORM opens, commits and rolls back its transactions, for the shared suite. */
export interface AdapterUnderTest<Tx> {
  /** Opens the ORM on the test database; `schema` holds the outbox, inbox and effects tables. */
  open(databaseUrl: string, schema: string): Promise<OrmHarness<Tx>>;
}

export interface OrmHarness<Tx> {
  /** The adapter (`fromPrisma`, …). */
  adapt(handle: Tx): Transaction;
  /** Runs `fn` in an ORM transaction that commits when `fn` resolves and rolls back when it rejects. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The ORM's non-transaction handle (the client, the database, the root EntityManager). */
  readonly client: unknown;
  /** The inbox session factory. */
  session: SessionFactory<Tx>;
  /** Writes one effect row through the ORM's own API, inside `tx`. */
  writeEffect(tx: Tx, table: string, messageId: string): Promise<void>;
  close(): Promise<void>;
}

export function describeAdapterGuarantees<Tx>(name: string, adapter: AdapterUnderTest<Tx>): void {
  const { schema, pool, databaseUrl } = useTestSchema(`orm_${name.replace(/\W/g, '_')}`);
  const amqp = useAmqp();
  const exchange = uniqueName(`${name}_events`);
  const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange });
  const relay = createRelay({ database: pool, amqp: testAmqpUrl(), schema, listen: false });
  const consumers: InboxConsumer[] = [];
  let orm: OrmHarness<Tx>;
  let effects: string;

  beforeAll(async () => {
    await migrateOutbox({ database: databaseUrl, schema });
    await migrateInbox({ database: databaseUrl, schema });
    effects = await createEffectsTable(pool, schema);
    orm = await adapter.open(databaseUrl, schema);
  });
  afterAll(async () => {
    for (const c of consumers) {
      await c.stop();
      await deleteTopology(amqp.channel, c.topology);
    }
    await relay.stop();
    await orm?.close();
  });

  const place = (orderId: string) => OrderPlaced.create({ orderId, totalCents: 100 });

  describe(`${name}: publish if and only if the transaction commits`, () => {
    it('a committed transaction’s message is published', async () => {
      const collector = await amqp.bindCollector(exchange, '#');
      const id = await orm.transaction((tx) => outbox.add(orm.adapt(tx), place('committed')));
      await relay.runOnce();
      const [only] = await collector.waitFor(1);
      expect(only?.properties.messageId).toBe(id);
      expect(JSON.parse(only?.content.toString() ?? '')).toEqual({ orderId: 'committed', totalCents: 100 });
    });

    it('a rolled-back transaction’s message is never published', async () => {
      const collector = await amqp.bindCollector(exchange, '#');
      await expect(
        orm.transaction(async (tx) => {
          await outbox.add(orm.adapt(tx), place('rolled-back'));
          throw new Error('domain rule failed');
        }),
      ).rejects.toThrow('domain rule failed');
      const committed = await orm.transaction((tx) => outbox.add(orm.adapt(tx), place('after')));
      await relay.runOnce();
      const [only] = await collector.waitFor(1);
      expect(only?.properties.messageId).toBe(committed);
      expect(await collector.flush()).toHaveLength(1);
      expect(await outboxRowCount(pool, schema)).toBe(0);
    });
  });

  describe(`${name}: a handle outside an open transaction is refused`, () => {
    it('the ORM client itself is refused with NotInTransactionError, and nothing is written', async () => {
      expect(() => orm.adapt(orm.client as Tx)).toThrow(NotInTransactionError);
      await expect(outbox.add(orm.client, place('client'))).rejects.toThrow(NotInTransactionError);
      expect(await outboxRowCount(pool, schema)).toBe(0);
    });

    it('a transaction that has committed is refused, whether adapted before or after its end', async () => {
      let finished: Tx | undefined;
      let adaptedEarly: Transaction | undefined;
      await orm.transaction(async (tx) => {
        finished = tx;
        adaptedEarly = orm.adapt(tx);
      });
      await expect((async () => outbox.add(orm.adapt(finished as Tx), place('late')))()).rejects.toThrow(
        NotInTransactionError,
      );
      await expect(outbox.add(adaptedEarly, place('late-early'))).rejects.toThrow(NotInTransactionError);
      expect(await outboxRowCount(pool, schema)).toBe(0);
    });
  });

  describe(`${name}: handlers in the ORM's transaction`, () => {
    function consumer(
      handler: HandlerRegistration | ((tx: Tx, id: string) => Promise<void>),
      extra: { retry?: { maxAttempts: number }; batch?: { maxMessages: number; maxWaitMs: number } } = {},
    ) {
      const c = createConsumer({
        group: uniqueName(`${name}_group`),
        database: pool,
        amqp: testAmqpUrl(),
        schema,
        exchange,
        session: orm.session as SessionFactory,
        handlers: [
          typeof handler === 'function'
            ? defineHandler<typeof PaymentRequested, Tx>(PaymentRequested, (_payload, ctx) =>
                handler(ctx.tx, ctx.envelope.id),
              )
            : handler,
        ],
        ...extra,
      });
      consumers.push(c);
      return c;
    }

    it('a message delivered 3 times applies its ORM writes once', async () => {
      const c = consumer((tx, id) => orm.writeEffect(tx, effects, id));
      await c.start();
      const id = publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'o-1', amountCents: 5 },
      });
      for (let i = 0; i < 2; i++) {
        publishEnvelope(amqp.channel, exchange, {
          id,
          type: PaymentRequested.type,
          payload: { orderId: 'o-1', amountCents: 5 },
        });
      }
      await waitUntil('three deliveries settled', async () => {
        const s = await c.stats();
        return s.processed + s.duplicatesSkipped >= 3;
      });
      expect(await c.stats()).toMatchObject({ processed: 1, duplicatesSkipped: 2 });
      expect((await effectCounts(pool, effects)).get(id)).toBe(1);
      await c.stop();
    });

    it('a failing handler’s ORM writes roll back with its inbox record', async () => {
      const c = consumer(
        async (tx, id) => {
          await orm.writeEffect(tx, effects, id);
          throw new NonRetryableError('handler failed after writing');
        },
        { retry: { maxAttempts: 1 } },
      );
      await c.start();
      const id = publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'o-2', amountCents: 5 },
      });
      await waitUntil('the failed delivery dead-lettered', async () => (await c.stats()).deadLettered >= 1);
      expect((await effectCounts(pool, effects)).get(id)).toBeUndefined();
      const { rows } = await (pool as pg.Pool).query(`SELECT 1 FROM "${schema}".inbox WHERE message_id = $1`, [id]);
      expect(rows).toHaveLength(0);
      await c.stop();
    });

    it('in a batch (one ORM transaction for several deliveries) a failing handler’s writes roll back and the others apply once', async () => {
      const failing = new Set<string>();
      const c = consumer(
        async (tx, id) => {
          await orm.writeEffect(tx, effects, id);
          if (failing.has(id)) throw new NonRetryableError('this one fails');
        },
        { retry: { maxAttempts: 1 }, batch: { maxMessages: 8, maxWaitMs: 300 } },
      );
      await c.start();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      failing.add(ids[1] as string);
      for (const id of ids) {
        publishEnvelope(amqp.channel, exchange, {
          id,
          type: PaymentRequested.type,
          payload: { orderId: id, amountCents: 5 },
        });
      }
      await waitUntil('the batch settled', async () => {
        const s = await c.stats();
        return s.processed + s.deadLettered >= 3;
      });
      const counts = await effectCounts(pool, effects);
      expect(ids.map((id) => counts.get(id))).toEqual([1, undefined, 1]);
      expect(await c.stats()).toMatchObject({ processed: 2, deadLettered: 1 });
      await c.stop();
    });

    it('ctx.client is refused with a message pointing at ctx.tx', async () => {
      let message = '';
      const c2 = consumer(
        defineHandler(PaymentRequested, (_p, ctx) => {
          try {
            void ctx.client;
          } catch (error) {
            message = (error as Error).message;
          }
        }),
      );
      await c2.start();
      publishEnvelope(amqp.channel, exchange, {
        type: PaymentRequested.type,
        payload: { orderId: 'o-3', amountCents: 5 },
      });
      await waitUntil('the delivery processed', async () => (await c2.stats()).processed >= 1);
      expect(message).toContain('use ctx.tx');
    });
  });
}
