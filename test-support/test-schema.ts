import pg from 'pg';
import { afterAll } from 'vitest';
import { testDatabaseUrl } from './service-urls.js';
import { uniqueName } from './unique-name.js';

export interface TestSchema {
  /** A unique, not yet created schema name (lowercase, safe unquoted). */
  readonly schema: string;
  /** A pool (max 10) on the test database; ended after the file's tests. */
  readonly pool: pg.Pool;
  readonly databaseUrl: string;
}

/**
 * Gives a test file its own PostgreSQL schema name and pool. The schema is not created here (the
 * code under test usually creates it through its migrations); it is dropped with CASCADE and the
 * pool ended in `afterAll`. Call it at the top level of a test file or of a `describe`.
 */
export function useTestSchema(prefix = 'txbox_test'): TestSchema {
  const schema = uniqueName(prefix);
  const databaseUrl = testDatabaseUrl();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // Crash tests terminate backends (pg_terminate_backend); an idle client's error must not kill the worker.
  pool.on('error', () => {});

  afterAll(async () => {
    try {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await pool.end();
    }
  });

  return { schema, pool, databaseUrl };
}
