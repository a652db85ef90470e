import { fromKnex, knexSession } from '@txbox/orm/knex';
import knexFactory, { type Knex } from 'knex';
import { describeAdapterGuarantees } from './adapter-guarantees.js';

describeAdapterGuarantees<Knex.Transaction>('knex', {
  async open(databaseUrl) {
    const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 4 } });
    return {
      adapt: (trx) => fromKnex(trx),
      transaction: (fn) => knex.transaction(fn),
      client: knex,
      session: knexSession(knex),
      writeEffect: async (trx, table, id) => {
        const [schema, name] = table.replaceAll('"', '').split('.');
        await trx
          .withSchema(schema as string)
          .insert({ message_id: id, info: 'knex' })
          .into(name as string);
      },
      close: () => knex.destroy(),
    };
  },
});
