import type { DataSourceOptions } from 'typeorm';
import { Order, OrderHistory } from './entities.js';
import { CreateOrders1732300000000 } from './migrations/1732300000000-create-orders.js';
import { AddTxbox1732300000001 } from './migrations/1732300000001-add-txbox.js';

/** One definition for the application (TypeOrmModule) and the migration step. */
export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: [Order, OrderHistory],
    migrations: [CreateOrders1732300000000, AddTxbox1732300000001],
    synchronize: false,
    migrationsRun: false,
  };
}
