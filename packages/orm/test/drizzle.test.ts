import { drizzleSession, fromDrizzle } from '@txbox/orm/drizzle';
import { drizzle as onNodePostgres } from 'drizzle-orm/node-postgres';
import { type PgDatabase, type PgQueryResultHKT, pgSchema, text } from 'drizzle-orm/pg-core';
import { drizzle as onPostgresJs } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { type AdapterUnderTest, describeAdapterGuarantees } from './adapter-guarantees.js';

type Database = PgDatabase<PgQueryResultHKT>;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** The same Drizzle code on either driver: only how the database is opened differs. */
function onDriver(open: (databaseUrl: string) => { db: Database; close(): Promise<void> }): AdapterUnderTest<Tx> {
  return {
    async open(databaseUrl, schema) {
      const { db, close } = open(databaseUrl);
      const effects = pgSchema(schema).table('effects', {
        message_id: text('message_id').notNull(),
        info: text('info'),
      });
      return {
        adapt: (tx) => fromDrizzle(tx),
        transaction: (fn) => db.transaction(fn),
        client: db,
        session: drizzleSession(db),
        writeEffect: async (tx, _table, id) => {
          await tx.insert(effects).values({ message_id: id, info: 'drizzle' });
        },
        close,
      };
    },
  };
}

describeAdapterGuarantees(
  'drizzle_pg',
  onDriver((databaseUrl) => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    return { db: onNodePostgres(pool) as unknown as Database, close: () => pool.end() };
  }),
);

describeAdapterGuarantees(
  'drizzle_postgres_js',
  onDriver((databaseUrl) => {
    const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
    return { db: onPostgresJs(sql) as unknown as Database, close: () => sql.end() };
  }),
);
