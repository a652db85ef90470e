// What every ORM scratch app of the compatibility matrix does, with the ORM it is given: write an
// order and its event in one ORM transaction (`outbox.add(fromX(tx), …)`), relay it, consume it
// with the ORM's session (`ctx.tx`: a first attempt that fails after an ORM write is rolled
// back, the retry applies it once), print `COMPAT OK …`, and on SIGTERM drain and re-raise it.
// Copied into each app's src/common/ by scripts/compat-matrix.mjs.
import { consoleLogger, defineMessage, type SessionFactory, type Transaction } from '@txbox/core';
import { createConsumer, defineHandler, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { z } from 'zod';

const OrderPlaced = defineMessage({
  type: 'compat.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});

export interface CompatOrm<Tx> {
  /** Runs `fn` in a transaction of the ORM. */
  transaction(fn: (tx: Tx) => Promise<void>): Promise<void>;
  /** `fromX(tx)` of `@txbox/orm`. */
  adapt(tx: Tx): Transaction;
  /** `xSession(…)` of `@txbox/orm`. */
  session: SessionFactory<Tx>;
  /** Inserts `{ order_id }` into `<schema>.<table>` through the ORM, in `tx`. */
  insert(tx: Tx, table: 'orders' | 'effects', orderId: string): Promise<void>;
  close(): Promise<void>;
}

export interface CompatEnv {
  databaseUrl: string;
  schema: string;
}

export async function runCompat<Tx>(open: (env: CompatEnv) => Promise<CompatOrm<Tx>>): Promise<void> {
  const env = process.env as Record<string, string>;
  const schema = env.COMPAT_SCHEMA;
  // Info and up: the matrix reads "Inbox consumer stopped" / "Outbox relay stopped" after SIGTERM.
  const logger = { ...consoleLogger({ verbose: true }), debug() {} };
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
  await migrateOutbox({ database: pool, schema });
  await migrateInbox({ database: pool, schema });
  for (const table of ['orders', 'effects']) {
    await pool.query(`CREATE TABLE "${schema}".${table} (id bigserial PRIMARY KEY, order_id text NOT NULL)`);
  }
  const orm = await open({ databaseUrl: env.DATABASE_URL, schema });
  const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange: env.COMPAT_EXCHANGE });
  const relay = createRelay({ database: pool, amqp: env.AMQP_URL, schema, logger, pollIntervalMs: 200 });
  let attempts = 0;
  const consumer = createConsumer({
    group: env.COMPAT_GROUP,
    database: pool,
    amqp: env.AMQP_URL,
    schema,
    exchange: env.COMPAT_EXCHANGE,
    session: orm.session,
    retry: { delaysMs: [200], maxAttempts: 3 },
    logger,
    handlers: [
      defineHandler<typeof OrderPlaced, Tx>(OrderPlaced, async (payload, ctx) => {
        await orm.insert(ctx.tx, 'effects', payload.orderId);
        attempts += 1;
        if (attempts === 1) throw new Error('first attempt fails after its ORM write');
      }),
    ],
  });
  process.once('SIGTERM', () => {
    void (async () => {
      await consumer.stop();
      await relay.stop();
      await orm.close();
      await pool.end();
      process.kill(process.pid, 'SIGTERM');
    })();
  });
  await consumer.start();
  await relay.start();
  await orm.transaction(async (tx) => {
    await orm.insert(tx, 'orders', 'o-1');
    await outbox.add(orm.adapt(tx), OrderPlaced.create({ orderId: 'o-1' }));
  });
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".effects`);
    if (attempts >= 2 && rows[0].n === 1) {
      console.log(
        `COMPAT OK written in the ORM transaction, consumed with its session (${attempts} attempts, 1 effect)`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`COMPAT FAIL ${attempts} attempts`);
}
