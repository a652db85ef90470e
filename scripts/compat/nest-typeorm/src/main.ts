// The scratch app of the compatibility matrix: boots, writes an order and its event in one
// transaction, consumes it with @OnMessage (first attempt fails after a @Transactional() write,
// the retry succeeds), adopts txbox's migrations from a TypeORM migration, prints COMPAT OK
// with what it saw, then waits for SIGTERM.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AddTxbox1700000000000 } from './add-txbox.migration';
import { AppModule } from './app.module';
import { attempts, OrdersService } from './orders';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  await app.get(OrdersService).place('compat-1', 1250);
  const dataSource = app.get(DataSource);
  await waitFor('the retried handler', async () => (attempts.some((a) => a.attempt === 2) ? true : undefined));
  const rows = await waitFor('one inbox record', async () => {
    const inbox = await dataSource.query(`SELECT count(*)::int AS n FROM "${process.env.COMPAT_SCHEMA}".inbox`);
    return inbox[0].n === 1 ? inbox : undefined;
  });
  const ledger = await dataSource.query(
    `SELECT count(*)::int AS n FROM "${process.env.COMPAT_SCHEMA}".ledger WHERE "orderId" = $1`,
    ['compat-1'],
  );
  // The service now owns its migrations: the exported SQL, from a TypeORM migration, on the
  // schema txbox migrated at startup.
  const migrations = new DataSource({
    type: 'postgres',
    url: process.env.DATABASE_URL,
    schema: process.env.COMPAT_SCHEMA,
    migrations: [AddTxbox1700000000000],
    migrationsTableName: 'typeorm_migrations',
  });
  await migrations.initialize();
  const adopted = (await migrations.runMigrations()).map((m) => m.name);
  await migrations.destroy();
  const result = { attempts, inboxRecords: rows[0].n, ledgerRows: ledger[0].n, adopted };
  const ok =
    result.ledgerRows === 1 &&
    adopted.length === 1 &&
    attempts.length === 2 &&
    attempts.every((a) => a.joined && a.visibleOutside === 0);
  process.stdout.write(`${ok ? 'COMPAT OK' : 'COMPAT FAIL'} ${JSON.stringify(result)}\n`);
  if (!ok) {
    await app.close();
    process.exit(1);
  }
}

bootstrap().catch((error: unknown) => {
  process.stdout.write(`COMPAT FAIL ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
