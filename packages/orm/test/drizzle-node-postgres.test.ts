import { drizzleSession, fromDrizzle } from '@txbox/orm/drizzle';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgSchema, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { describeAdapterGuarantees } from './adapter-guarantees.js';

type Tx = Parameters<Parameters<NodePgDatabase['transaction']>[0]>[0];

describeAdapterGuarantees<Tx>('drizzle_pg', {
  async open(databaseUrl, schema) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    const db = drizzle(pool);
    const effects = pgSchema(schema).table('effects', { message_id: text('message_id').notNull(), info: text('info') });
    return {
      adapt: (tx) => fromDrizzle(tx),
      transaction: (fn) => db.transaction(fn),
      client: db,
      session: drizzleSession(db),
      writeEffect: async (tx, _table, id) => {
        await tx.insert(effects).values({ message_id: id, info: 'drizzle node-postgres' });
      },
      close: () => pool.end(),
    };
  },
});
