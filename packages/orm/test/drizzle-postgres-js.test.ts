import { drizzleSession, fromDrizzle } from '@txbox/orm/drizzle';
import { pgSchema, text } from 'drizzle-orm/pg-core';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { describeAdapterGuarantees } from './adapter-guarantees.js';

type Tx = Parameters<Parameters<PostgresJsDatabase['transaction']>[0]>[0];

describeAdapterGuarantees<Tx>('drizzle_postgres_js', {
  async open(databaseUrl, schema) {
    const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
    const db = drizzle(sql);
    const effects = pgSchema(schema).table('effects', { message_id: text('message_id').notNull(), info: text('info') });
    return {
      adapt: (tx) => fromDrizzle(tx),
      transaction: (fn) => db.transaction(fn),
      client: db,
      session: drizzleSession(db),
      writeEffect: async (tx, _table, id) => {
        await tx.insert(effects).values({ message_id: id, info: 'drizzle postgres-js' });
      },
      close: () => sql.end(),
    };
  },
});
