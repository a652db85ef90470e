import { TransactionalAdapterDrizzleOrm } from '@nestjs-cls/transactional-adapter-drizzle-orm';
import { drizzleSession } from '@txbox/orm/drizzle';
import { drizzle } from 'drizzle-orm/node-postgres';
import { bigserial, type PgDatabase, type PgQueryResultHKT, pgSchema, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { describeNestOrm, ORM_CLIENT } from './orm/describe-nest-orm.js';

type Database = PgDatabase<PgQueryResultHKT>;

describeNestOrm('drizzle', {
  async open(databaseUrl, schema) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    const db = drizzle(pool);
    const effects = pgSchema(schema).table('effects', {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      message_id: text('message_id').notNull(),
      info: text('info'),
    });
    return {
      client: db,
      adapter: new TransactionalAdapterDrizzleOrm({ drizzleInstanceToken: ORM_CLIENT }),
      session: drizzleSession(db),
      writeEffect: async (tx, orderId) => {
        await (tx as Database).insert(effects).values({ message_id: orderId, info: 'nest drizzle' });
      },
      close: () => pool.end(),
    };
  },
});
