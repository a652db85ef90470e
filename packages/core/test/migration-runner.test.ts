import { exportMigrationSql, InvalidIdentifierError, isTxboxError, migrate, migrationStatus } from '@txbox/core';
import {
  assertSchemaCurrent,
  type Migration,
  type MigrationClient,
  type MigrationSet,
  renderMigrationSql,
} from '@txbox/core/internal';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName, useTestSchema } from '../../../test-support/index.js';

const createT1: Migration = {
  version: 1,
  name: 'create t1',
  sql: 'CREATE TABLE :SCHEMA.t1 (id bigint PRIMARY KEY, label text NOT NULL);',
};
// Deliberately not idempotent (no IF NOT EXISTS): running it twice would fail.
const addOwnerAndT2: Migration = {
  version: 2,
  name: "add t1's owner, and t2",
  sql: 'ALTER TABLE :SCHEMA.t1 ADD COLUMN owner text;\nCREATE TABLE :SCHEMA.t2 (id bigint PRIMARY KEY REFERENCES :SCHEMA.t1 (id));',
};

const demo: MigrationSet = { component: 'demo', migrations: [createT1, addOwnerAndT2] };
const demoV1Only: MigrationSet = { component: 'demo', migrations: [createT1] };

const { pool } = useTestSchema('core_migrate');
const schemas: string[] = [];

/** A fresh, not yet created schema name, dropped after the file. */
function newSchema(): string {
  const schema = uniqueName('core_migrate');
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
});

async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

async function appliedRows(schema: string): Promise<Array<{ version: number; name: string; applied_at: Date }>> {
  const { rows } = await pool.query(
    `SELECT version, name, applied_at FROM "${schema}".demo_migrations ORDER BY version`,
  );
  return rows;
}

async function tablesIn(schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [schema],
  );
  return rows.map((r) => r.table_name);
}

async function schemaExists(schema: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return rows.length === 1;
}

async function txboxCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(isTxboxError(error)).toBe(true);
    return (error as { code: string }).code;
  }
  throw new Error('expected the promise to reject');
}

describe('migrate', () => {
  it('creates the schema, applies every migration in order and records each one', async () => {
    const schema = newSchema();
    const status = await withClient((client) => migrate(client, demo, schema));
    expect(status).toEqual({ component: 'demo', schema, current: 2, latest: 2, pending: [] });
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1', 't2']);
    const { rows } = await pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't1' ORDER BY ordinal_position`,
      [schema],
    );
    expect(rows.map((r) => r.column_name)).toEqual(['id', 'label', 'owner']);
    expect((await appliedRows(schema)).map(({ version, name }) => ({ version, name }))).toEqual([
      { version: 1, name: 'create t1' },
      { version: 2, name: "add t1's owner, and t2" },
    ]);
  });

  it('is idempotent: a second call applies nothing and does not fail', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    const before = await appliedRows(schema);
    const again = await withClient((client) => migrate(client, demo, schema));
    expect(again).toMatchObject({ current: 2, latest: 2, pending: [] });
    expect(await appliedRows(schema)).toEqual(before);
  });

  it('applies only what is pending on a schema migrated by an older release', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demoV1Only, schema));
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1']);
    await pool.query(`INSERT INTO "${schema}".t1 (id, label) VALUES (1, 'kept')`);
    await withClient((client) => migrate(client, demo, schema));
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1', 't2']);
    expect((await pool.query(`SELECT id::int, label, owner FROM "${schema}".t1`)).rows).toEqual([
      { id: 1, label: 'kept', owner: null },
    ]);
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
  });

  it('two concurrent migrate() calls on separate connections both succeed and each migration is recorded once', async () => {
    const schema = newSchema();
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    try {
      const results = await Promise.all([migrate(a, demo, schema), migrate(b, demo, schema)]);
      for (const status of results) expect(status).toMatchObject({ current: 2, latest: 2, pending: [] });
    } finally {
      a.release();
      b.release();
    }
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1', 't2']);
  });

  it('many concurrent migrate() calls on a fresh schema all succeed', async () => {
    const schema = newSchema();
    const clients = await Promise.all(Array.from({ length: 5 }, () => pool.connect()));
    try {
      const results = await Promise.allSettled(clients.map((client) => migrate(client, demo, schema)));
      expect(results.map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    } finally {
      for (const client of clients) client.release();
    }
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
  });

  it('a failing migration rolls back the whole run and leaves the connection usable', async () => {
    const schema = newSchema();
    const broken: MigrationSet = {
      component: 'demo',
      migrations: [createT1, { version: 2, name: 'broken', sql: 'CREATE TABLE :SCHEMA.t1 (id int);' }],
    };
    await withClient(async (client) => {
      await expect(migrate(client, broken, schema)).rejects.toThrow(/already exists/);
      expect(client.getTransactionStatus()).toBe('I');
      await expect(client.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    });
    expect(await schemaExists(schema)).toBe(false);
    const status = await withClient((client) => migrationStatus(client, demo, schema));
    expect(status.current).toBe(0);
  });

  it('refuses (SCHEMA_TOO_NEW) a schema with a higher recorded version than it knows, changing nothing', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    await pool.query(`INSERT INTO "${schema}".demo_migrations (version, name) VALUES (3, 'from the future')`);
    const before = await appliedRows(schema);
    await withClient(async (client) => {
      expect(await txboxCode(migrate(client, demo, schema))).toBe('SCHEMA_TOO_NEW');
      expect(client.getTransactionStatus()).toBe('I');
    });
    // An older release (knowing only v1) is refused on a v2 schema too.
    const v2Schema = newSchema();
    await withClient((client) => migrate(client, demo, v2Schema));
    const error = await withClient((client) => migrate(client, demoV1Only, v2Schema).catch((e: unknown) => e));
    expect(error).toMatchObject({ code: 'SCHEMA_TOO_NEW' });
    expect((error as Error).message).toMatch(/version 2.*\(1\)/);
    expect(await appliedRows(schema)).toEqual(before);
  });

  it.each(['a"b', "a'b", 'Upper', 'x; DROP TABLE t', ''])(
    'rejects the schema name %j (IDENTIFIER_INVALID) before running any SQL',
    async (schema) => {
      const sent: string[] = [];
      const client: MigrationClient = {
        async query(text: string) {
          sent.push(text);
          return { rows: [] };
        },
      };
      for (const run of [
        () => migrate(client, demo, schema),
        () => migrationStatus(client, demo, schema),
        () => assertSchemaCurrent(client, demo, schema),
      ]) {
        const error = await run().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidIdentifierError);
        expect(error).toMatchObject({ code: 'IDENTIFIER_INVALID', value: schema });
      }
      expect(() => exportMigrationSql(demo, schema)).toThrow(InvalidIdentifierError);
      expect(() => renderMigrationSql('SELECT 1 FROM :SCHEMA.t', schema)).toThrow(InvalidIdentifierError);
      expect(sent).toEqual([]);
    },
  );
});

describe('migrationStatus', () => {
  it('reports version 0 and every migration pending on a schema that does not exist, without creating it', async () => {
    const schema = newSchema();
    const status = await withClient((client) => migrationStatus(client, demo, schema));
    expect(status).toEqual({ component: 'demo', schema, current: 0, latest: 2, pending: [...demo.migrations] });
    expect(await schemaExists(schema)).toBe(false);
  });

  it('reports what is applied and what is pending', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demoV1Only, schema));
    const status = await withClient((client) => migrationStatus(client, demo, schema));
    expect(status).toMatchObject({ current: 1, latest: 2, pending: [addOwnerAndT2] });
    await withClient((client) => migrate(client, demo, schema));
    expect(await withClient((client) => migrationStatus(client, demo, schema))).toMatchObject({
      current: 2,
      latest: 2,
      pending: [],
    });
  });
});

describe('assertSchemaCurrent', () => {
  it('passes on a fully migrated schema', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    await expect(withClient((client) => assertSchemaCurrent(client, demo, schema))).resolves.toBeUndefined();
  });

  it('throws SCHEMA_NOT_MIGRATED on a schema that was never migrated, saying how to migrate', async () => {
    const schema = newSchema();
    const error = await withClient((client) => assertSchemaCurrent(client, demo, schema).catch((e: unknown) => e));
    expect(isTxboxError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'SCHEMA_NOT_MIGRATED' });
    expect((error as Error).message).toContain(schema);
    expect((error as Error).message).toContain('migrateDemo()');
  });

  it('throws SCHEMA_NOT_MIGRATED on a schema that exists but has no migrations table', async () => {
    const schema = newSchema();
    await pool.query(`CREATE SCHEMA "${schema}"`);
    expect(await withClient((client) => txboxCode(assertSchemaCurrent(client, demo, schema)))).toBe(
      'SCHEMA_NOT_MIGRATED',
    );
  });

  it('throws SCHEMA_NOT_MIGRATED on a schema migrated only partway', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demoV1Only, schema));
    expect(await withClient((client) => txboxCode(assertSchemaCurrent(client, demo, schema)))).toBe(
      'SCHEMA_NOT_MIGRATED',
    );
  });

  it('throws SCHEMA_TOO_NEW on a schema with a higher recorded version than the code knows', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    expect(await withClient((client) => txboxCode(assertSchemaCurrent(client, demoV1Only, schema)))).toBe(
      'SCHEMA_TOO_NEW',
    );
    await pool.query(`INSERT INTO "${schema}".demo_migrations (version, name) VALUES (9, 'future')`);
    expect(await withClient((client) => txboxCode(assertSchemaCurrent(client, demo, schema)))).toBe('SCHEMA_TOO_NEW');
  });
});

describe('exportMigrationSql', () => {
  it('produces a script that, applied as one plain multi-statement query, leaves migrate() nothing to do', async () => {
    const schema = newSchema();
    const sql = exportMigrationSql(demo, schema);
    expect(sql).not.toContain(':SCHEMA');
    expect(sql).toContain(`"${schema}".t1`);
    await pool.query(sql);
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1', 't2']);
    expect((await appliedRows(schema)).map(({ version, name }) => ({ version, name }))).toEqual([
      { version: 1, name: 'create t1' },
      { version: 2, name: "add t1's owner, and t2" },
    ]);
    await withClient(async (client) => {
      expect(await migrationStatus(client, demo, schema)).toMatchObject({ current: 2, pending: [] });
      // Migration 2 is not idempotent, so this would fail if migrate() re-applied anything.
      await expect(migrate(client, demo, schema)).resolves.toMatchObject({ current: 2, pending: [] });
      await expect(assertSchemaCurrent(client, demo, schema)).resolves.toBeUndefined();
    });
  });

  it('adopted on a schema migrate() already applied, the script applies nothing and does not fail', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    await pool.query(`INSERT INTO "${schema}".t1 (id, label) VALUES (1, 'kept')`);
    const before = await appliedRows(schema);
    // Both migrations are deliberately not idempotent: re-running either would throw.
    await pool.query(exportMigrationSql(demo, schema));
    expect(await appliedRows(schema)).toEqual(before);
    expect((await pool.query(`SELECT label FROM "${schema}".t1`)).rows).toEqual([{ label: 'kept' }]);
  });

  it('run twice, or over an older release, applies each version once', async () => {
    const schema = newSchema();
    await pool.query(exportMigrationSql(demoV1Only, schema));
    await pool.query(exportMigrationSql(demo, schema));
    await pool.query(exportMigrationSql(demo, schema));
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
    expect(await tablesIn(schema)).toEqual(['demo_migrations', 't1', 't2']);
  });

  it('refuses a schema newer than the versions it knows, changing nothing', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demo, schema));
    await expect(pool.query(exportMigrationSql(demoV1Only, schema))).rejects.toThrow(/SCHEMA_TOO_NEW/);
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
  });

  it('with fromVersion exports only the later migrations, for a schema already at that version', async () => {
    const schema = newSchema();
    await withClient((client) => migrate(client, demoV1Only, schema));
    const sql = exportMigrationSql(demo, schema, 1);
    expect(sql).not.toContain(`CREATE TABLE "${schema}".t1 `);
    await pool.query(sql);
    expect((await appliedRows(schema)).map((r) => r.version)).toEqual([1, 2]);
    await withClient((client) => expect(assertSchemaCurrent(client, demo, schema)).resolves.toBeUndefined());
  });
});
