import type { EntityManager } from '@mikro-orm/core';
import { EntitySchema, MikroORM } from '@mikro-orm/postgresql';
import { fromMikroOrm, mikroOrmSession } from '@txbox/orm/mikro-orm';
import { runCompat } from './common/run';

interface Row {
  id: string;
  order_id: string;
}

void runCompat<EntityManager>(async ({ databaseUrl, schema }) => {
  const entity = (name: string, tableName: string) =>
    new EntitySchema<Row>({
      name,
      tableName,
      schema,
      properties: { id: { type: 'bigint', primary: true, autoincrement: true }, order_id: { type: 'string' } },
    });
  const tables = { orders: entity('Order', 'orders'), effects: entity('Effect', 'effects') };
  const orm = await MikroORM.init({ clientUrl: databaseUrl, entities: Object.values(tables), pool: { max: 4 } });
  return {
    transaction: (fn) => orm.em.fork().transactional(fn),
    adapt: (em) => fromMikroOrm(em),
    session: mikroOrmSession(orm.em),
    insert: async (em, table, orderId) => {
      em.create(tables[table], { order_id: orderId });
      await em.flush();
    },
    close: () => orm.close(),
  };
});
