import { fromKysely, kyselySession } from '@txbox/orm/kysely';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { describeAdapterGuarantees } from './adapter-guarantees.js';

interface Database {
  effects: { message_id: string; info: string | null };
}

describeAdapterGuarantees<Transaction<Database>>('kysely', {
  async open(databaseUrl) {
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 4 }) }),
    });
    return {
      adapt: (trx) => fromKysely(trx),
      transaction: (fn) => db.transaction().execute(fn),
      client: db,
      session: kyselySession(db),
      writeEffect: async (trx, table, id) => {
        const schema = table.replaceAll('"', '').split('.')[0] as string;
        await trx.withSchema(schema).insertInto('effects').values({ message_id: id, info: 'kysely' }).execute();
      },
      close: () => db.destroy(),
    };
  },
});
