import { fromKysely, kyselySession } from '@txbox/orm/kysely';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { runCompat } from './common/run';

interface Tables {
  orders: { order_id: string };
  effects: { order_id: string };
}

void runCompat<Transaction<Tables>>(async ({ databaseUrl, schema }) => {
  const db = new Kysely<Tables>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 4 }) }),
  });
  return {
    transaction: (fn) => db.transaction().execute(fn),
    adapt: (tx) => fromKysely(tx),
    session: kyselySession(db),
    insert: async (tx, table, orderId) => {
      await tx.withSchema(schema).insertInto(table).values({ order_id: orderId }).execute();
    },
    close: () => db.destroy(),
  };
});
