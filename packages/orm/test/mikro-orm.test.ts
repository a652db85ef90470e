import { type EntityManager, EntitySchema, MikroORM } from '@mikro-orm/postgresql';
import { fromMikroOrm, mikroOrmSession } from '@txbox/orm/mikro-orm';
import pg from 'pg';
import { describeAdapterGuarantees } from './adapter-guarantees.js';

interface Effect {
  id: string;
  message_id: string;
  info: string | null;
}

describeAdapterGuarantees<EntityManager>('mikro_orm', {
  async open(databaseUrl, schema) {
    // MikroORM entities need a primary key; the shared effects table has none of its own.
    const setup = new pg.Client({ connectionString: databaseUrl });
    await setup.connect();
    await setup.query(`ALTER TABLE "${schema}".effects ADD COLUMN IF NOT EXISTS id bigserial PRIMARY KEY`);
    await setup.end();
    const EffectSchema = new EntitySchema<Effect>({
      name: 'Effect',
      tableName: 'effects',
      schema,
      properties: {
        id: { type: 'bigint', primary: true, autoincrement: true },
        message_id: { type: 'string' },
        info: { type: 'string', nullable: true },
      },
    });
    const orm = await MikroORM.init({
      clientUrl: databaseUrl,
      entities: [EffectSchema],
      pool: { max: 4 },
      debug: false,
    });
    return {
      adapt: (em) => fromMikroOrm(em),
      transaction: (fn) => orm.em.transactional(fn),
      client: orm.em,
      session: mikroOrmSession(orm.em),
      writeEffect: async (em, _table, id) => {
        em.create(EffectSchema, { message_id: id, info: 'mikro-orm' });
        await em.flush();
      },
      close: () => orm.close(),
    };
  },
});
