import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import {
  createRelay,
  migrateOutbox,
  OUTBOX_SCHEMA_VERSION,
  outboxMigrationSql,
  outboxMigrationStatus,
} from '@txbox/outbox';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useTestSchema } from '../../../test-support/index.js';

const { pool, databaseUrl } = useTestSchema('outbox_migrations');
const schemas: string[] = [];
function freshSchema() {
  const name = uniqueName('outbox_mig');
  schemas.push(name);
  return name;
}

afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

describe('outbox migrations', () => {
  it('are idempotent', async () => {
    const schema = freshSchema();
    expect((await migrateOutbox({ database: databaseUrl, schema })).current).toBe(OUTBOX_SCHEMA_VERSION);
    expect((await migrateOutbox({ database: pool, schema })).current).toBe(OUTBOX_SCHEMA_VERSION);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox_migrations`);
    expect(rows[0].n).toBe(OUTBOX_SCHEMA_VERSION);
  });

  it('are safe when several processes migrate at once', async () => {
    const schema = freshSchema();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => migrateOutbox({ database: databaseUrl, schema })),
    );
    expect(results.every((r) => r.current === OUTBOX_SCHEMA_VERSION)).toBe(true);
    const { rows } = await pool.query(`SELECT version FROM "${schema}".outbox_migrations ORDER BY version`);
    // Every migration recorded exactly once.
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: OUTBOX_SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('refuse a schema newer than the code knows, and so does the relay', async () => {
    const schema = freshSchema();
    await migrateOutbox({ database: databaseUrl, schema });
    await pool.query(`INSERT INTO "${schema}".outbox_migrations (version, name) VALUES (999, 'from the future')`);
    await expect(migrateOutbox({ database: databaseUrl, schema })).rejects.toMatchObject({
      code: 'SCHEMA_TOO_NEW',
      message: expect.stringContaining('999'),
    });
    const relay = createRelay({ database: databaseUrl, amqp: testAmqpUrl(), schema });
    await expect(relay.start()).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
    await relay.stop();
  });

  it('a relay on an unmigrated schema fails to start with a message saying how to migrate', async () => {
    const schema = freshSchema();
    const relay = createRelay({ database: databaseUrl, amqp: testAmqpUrl(), schema });
    await expect(relay.start()).rejects.toMatchObject({
      code: 'SCHEMA_NOT_MIGRATED',
      message: expect.stringContaining('migrate'),
    });
    await relay.stop();
  });

  it('the exported SQL creates the same schema, and migrate() then has nothing to do', async () => {
    const schema = freshSchema();
    await pool.query(outboxMigrationSql({ schema }));
    const status = await outboxMigrationStatus({ database: pool, schema });
    expect(status).toMatchObject({ current: OUTBOX_SCHEMA_VERSION, pending: [] });
    expect((await migrateOutbox({ database: pool, schema })).current).toBe(OUTBOX_SCHEMA_VERSION);
  });

  it('the exported SQL, run from a TypeORM migration on a schema the service had migrated itself, adopts it', async () => {
    const schema = freshSchema();
    // What a service that ran with auto-migration and now owns its migrations goes through.
    await migrateOutbox({ database: pool, schema });
    class AddTxbox1700000000000 implements MigrationInterface {
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(outboxMigrationSql({ schema }));
      }
      async down(): Promise<void> {}
    }
    const dataSource = new DataSource({
      type: 'postgres',
      url: databaseUrl,
      schema,
      migrations: [AddTxbox1700000000000],
      migrationsTableName: 'typeorm_migrations',
    });
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      expect(applied.map((m) => m.name)).toEqual(['AddTxbox1700000000000']);
    } finally {
      await dataSource.destroy();
    }
    expect(await outboxMigrationStatus({ database: pool, schema })).toMatchObject({
      current: OUTBOX_SCHEMA_VERSION,
      pending: [],
    });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox_migrations`);
    expect(rows[0].n).toBe(OUTBOX_SCHEMA_VERSION);
  });

  it('the CLI prints the SQL, migrates and reports status', async () => {
    const schema = freshSchema();
    const require = createRequire(import.meta.url);
    const cli = require.resolve('@txbox/outbox/package.json').replace('package.json', 'dist/cli/main.js');
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [cli, ...args]);
    expect((await run('sql', '--schema', schema)).stdout).toContain(`CREATE TABLE "${schema}".outbox`);
    await expect(run('status', '--schema', schema, '--database-url', databaseUrl)).rejects.toMatchObject({ code: 3 });
    expect((await run('migrate', '--schema', schema, '--database-url', databaseUrl)).stdout).toContain(
      `is at version ${OUTBOX_SCHEMA_VERSION}`,
    );
    expect((await run('status', '--schema', schema, '--database-url', databaseUrl)).stdout).toContain('pending 0');
    await expect(run('migrate', '--schema', 'bad"name', '--database-url', databaseUrl)).rejects.toMatchObject({
      stderr: expect.stringContaining('Invalid schema name'),
    });
  });
});

describe('relay configuration is checked at construction', () => {
  it('rejects a schema name with a quote, bad numbers and bad URLs, naming the option', () => {
    const base = { database: databaseUrl, amqp: testAmqpUrl() };
    expect(() => createRelay({ ...base, schema: 'x"; drop table y; --' })).toThrow(
      expect.objectContaining({ code: 'IDENTIFIER_INVALID' }),
    );
    expect(() => createRelay({ ...base, batchSize: 0 })).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_INVALID', option: 'relay.batchSize' }),
    );
    expect(() => createRelay({ ...base, leaseMs: 5000, publishTimeoutMs: 6000 })).toThrow(
      expect.objectContaining({ option: 'relay.publishTimeoutMs' }),
    );
    expect(() => createRelay({ ...base, amqp: 'http://localhost' })).toThrow(
      expect.objectContaining({ option: 'relay.amqp' }),
    );
    expect(() => createRelay({ ...base, database: 'mysql://u:secret@h/db' })).toThrow(
      expect.objectContaining({ option: 'database', message: expect.not.stringContaining('secret') }),
    );
  });
});
