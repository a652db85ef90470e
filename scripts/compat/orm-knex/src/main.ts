import { fromKnex, knexSession } from '@txbox/orm/knex';
import knex, { type Knex } from 'knex';
import { runCompat } from './common/run';

void runCompat<Knex.Transaction>(async ({ databaseUrl, schema }) => {
  const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 4 } });
  return {
    transaction: (fn) => db.transaction(fn),
    adapt: (tx) => fromKnex(tx),
    session: knexSession(db),
    insert: async (tx, table, orderId) => {
      await tx.withSchema(schema).insert({ order_id: orderId }).into(table);
    },
    close: () => db.destroy(),
  };
});
