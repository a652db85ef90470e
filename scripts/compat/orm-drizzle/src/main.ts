import { drizzleSession, fromDrizzle } from '@txbox/orm/drizzle';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgSchema, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { runCompat } from './common/run';

function open(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  return { pool, db: drizzle(pool) };
}
type Tx = Parameters<Parameters<ReturnType<typeof open>['db']['transaction']>[0]>[0];

void runCompat<Tx>(async ({ databaseUrl, schema }) => {
  const { pool, db } = open(databaseUrl);
  const tables = {
    orders: pgSchema(schema).table('orders', { order_id: text('order_id').notNull() }),
    effects: pgSchema(schema).table('effects', { order_id: text('order_id').notNull() }),
  };
  return {
    transaction: (fn) => db.transaction(fn),
    adapt: (tx) => fromDrizzle(tx),
    session: drizzleSession(db),
    insert: async (tx, table, orderId) => {
      await tx.insert(tables[table]).values({ order_id: orderId });
    },
    close: () => pool.end(),
  };
});
