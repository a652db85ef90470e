// Deploy step: runs the TypeORM migrations, txbox's tables included. TypeORM records them in
// its "migrations" table, and txbox's SQL records its own versions too, so the relay and the
// consumers see a current schema.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source.js';
import { readOrdersSettings } from './settings.js';

const dataSource = new DataSource(dataSourceOptions(readOrdersSettings().databaseUrl));
await dataSource.initialize();
try {
  const applied = await dataSource.runMigrations({ transaction: 'all' });
  console.log(`orders: migrated (${applied.map((m) => m.name).join(', ') || 'nothing to do'})`);
} finally {
  await dataSource.destroy();
}
