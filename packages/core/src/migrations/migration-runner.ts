import type pg from 'pg';
import { checkOut } from '../database/database-input.js';
import { TxboxError } from '../errors/txbox-error.js';
import { validateSqlIdentifier } from '../identifiers/identifiers.js';
import { withRetries } from '../retry/with-retries.js';

/** One numbered schema change. `sql` uses `:SCHEMA` where the (quoted) schema name goes. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A set of migrations owned by one txbox component (`outbox`, `inbox`). */
export interface MigrationSet {
  component: string;
  migrations: readonly Migration[];
}

/** What a client that can run migrations must offer: a dedicated connection. */
export interface MigrationClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface MigrationStatus {
  component: string;
  schema: string;
  /** Highest applied version, 0 when none. */
  current: number;
  /** Highest version this code knows. */
  latest: number;
  pending: Migration[];
}

/** Renders a migration's SQL for a schema (validated, then quoted once). */
export function renderMigrationSql(sql: string, schema: string): string {
  return sql.replaceAll(':SCHEMA', `"${validateSqlIdentifier('schema name', schema)}"`);
}

function migrationsTable(set: MigrationSet, schema: string): string {
  return `"${schema}"."${set.component}_migrations"`;
}

/**
 * The whole schema of a component as one SQL script, including the bookkeeping table,
 * for teams that run their own migrations (paste it into a TypeORM migration, Flyway...).
 *
 * Safe to adopt on any state of the schema: each version runs only when the component's
 * migrations table does not record it, and is recorded in the same statement. So the script
 * can follow `migrate()` (a service that migrated itself outside production and now owns its
 * migrations), precede it (`migrate()` then sees the versions as applied), or run twice. It
 * takes the advisory lock `migrate()` takes, so the two never apply a version at once, and it
 * refuses a schema newer than the versions it knows, as `migrate()` does.
 */
export function exportMigrationSql(set: MigrationSet, schema: string, fromVersion = 0): string {
  validateSqlIdentifier('schema name', schema);
  const table = migrationsTable(set, schema);
  const latest = latestVersion(set);
  const parts = [
    // Held until the caller's transaction ends (a TypeORM migration runs in one); outside a
    // transaction it only orders this statement against a concurrent migrate().
    `SELECT pg_advisory_xact_lock(hashtext('${migrationLockName(set)}'), hashtext('${schema}'));`,
    bootstrapSql(set, schema),
    `DO ${quoteTag('txbox_check')}
BEGIN
  IF (SELECT coalesce(max(version), 0) FROM ${table}) > ${latest} THEN
    RAISE EXCEPTION 'SCHEMA_TOO_NEW: the ${set.component} schema "${schema}" is newer than this script (version ${latest}); export the SQL from the @txbox release the service runs';
  END IF;
END
${quoteTag('txbox_check')};`,
  ];
  for (const m of set.migrations) {
    if (m.version <= fromVersion) continue;
    const body = renderMigrationSql(m.sql, schema).trim();
    const tag = quoteTag('txbox_migration');
    if (body.includes(tag)) throw new Error(`${set.component} migration ${m.version} contains ${tag}`);
    parts.push(`-- ${set.component} migration ${m.version}: ${m.name} (skipped when already recorded)
DO ${quoteTag('txbox_apply')}
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${table} WHERE version = ${m.version}) THEN
    EXECUTE ${tag}
${body}
${tag};
    INSERT INTO ${table} (version, name) VALUES (${m.version}, '${m.name.replaceAll("'", "''")}');
  END IF;
END
${quoteTag('txbox_apply')};`);
  }
  return `${parts.join('\n\n')}\n`;
}

function quoteTag(name: string): string {
  return `$${name}$`;
}

function latestVersion(set: MigrationSet): number {
  return Math.max(0, ...set.migrations.map((m) => m.version));
}

function migrationLockName(set: MigrationSet): string {
  return `txbox.migrate.${set.component}`;
}

function bootstrapSql(set: MigrationSet, schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS "${schema}";
CREATE TABLE IF NOT EXISTS ${migrationsTable(set, schema)} (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;
}

async function appliedVersion(client: MigrationClient, set: MigrationSet, schema: string): Promise<number> {
  const { rows } = await client.query(
    `SELECT coalesce(max(version), 0)::int AS version FROM ${migrationsTable(set, schema)}`,
  );
  return (rows[0] as { version: number }).version;
}

function refuseNewer(set: MigrationSet, schema: string, current: number, latest: number): void {
  if (current > latest) {
    throw new TxboxError(
      'SCHEMA_TOO_NEW',
      `The ${set.component} schema "${schema}" is at version ${current}, newer than this txbox knows (${latest}). ` +
        'Upgrade @txbox packages on this service; do not run an older version against a newer schema.',
    );
  }
}

/**
 * Applies pending migrations in one transaction under a transaction-level advisory lock,
 * so concurrent processes (several replicas starting at once) migrate once and the others
 * wait, then see nothing to do. Refuses a schema newer than the code. The client must be
 * a dedicated connection (not inside a caller's transaction).
 */
export async function migrate(client: MigrationClient, set: MigrationSet, schema: string): Promise<MigrationStatus> {
  validateSqlIdentifier('schema name', schema);
  const latest = latestVersion(set);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [migrationLockName(set), schema]);
    // CREATE SCHEMA IF NOT EXISTS can still race on the catalog without the lock; we hold it.
    await client.query(bootstrapSql(set, schema));
    const current = await appliedVersion(client, set, schema);
    refuseNewer(set, schema, current, latest);
    const pending = set.migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
    for (const m of pending) {
      await client.query(renderMigrationSql(m.sql, schema));
      await client.query(`INSERT INTO ${migrationsTable(set, schema)} (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
    }
    await client.query('COMMIT');
    return { component: set.component, schema, current: latest, latest, pending: [] };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Reads the applied version without changing anything. */
export async function migrationStatus(
  client: MigrationClient,
  set: MigrationSet,
  schema: string,
): Promise<MigrationStatus> {
  validateSqlIdentifier('schema name', schema);
  const latest = latestVersion(set);
  const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [
    `"${schema}"."${set.component}_migrations"`,
  ]);
  const present = (rows[0] as { present: boolean }).present;
  const current = present ? await appliedVersion(client, set, schema) : 0;
  return {
    component: set.component,
    schema,
    current,
    latest,
    pending: set.migrations.filter((m) => m.version > current),
  };
}

/**
 * Throws unless the schema is exactly at the version the code knows: used by relays and
 * consumers at start, so a missing migration is a clear error and not a "relation does not exist".
 */
export async function assertSchemaCurrent(client: MigrationClient, set: MigrationSet, schema: string): Promise<void> {
  const status = await migrationStatus(client, set, schema);
  refuseNewer(set, schema, status.current, status.latest);
  if (status.current < status.latest) {
    throw new TxboxError(
      'SCHEMA_NOT_MIGRATED',
      `The ${set.component} schema "${schema}" is at version ${status.current}, but version ${status.latest} is needed. ` +
        `Run migrations first: call migrate${capitalize(set.component)}() at startup, run "txbox-${set.component} migrate", or apply the exported SQL.`,
    );
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Connects through the component's own pool and checks its schema version, turning a
 * connection failure into a CONNECTION_FAILED error that names the (password-free) target.
 */
export async function assertSchemaReady(
  db: { pool: pg.Pool; safeTarget: string },
  set: MigrationSet,
  schema: string,
): Promise<void> {
  // A connection lost during the check (a terminated backend, a failover) is retried a few
  // times, so a start does not fail on a blip; what the schema says is never retried.
  await withRetries(
    async () => {
      let held: Awaited<ReturnType<typeof checkOut>>;
      try {
        held = await checkOut(db.pool);
      } catch (cause) {
        throw new TxboxError('CONNECTION_FAILED', `Cannot connect to PostgreSQL at ${db.safeTarget}`, { cause });
      }
      let broken = false;
      try {
        await assertSchemaCurrent(held.client, set, schema);
      } catch (error) {
        broken = !(error instanceof TxboxError);
        throw error;
      } finally {
        held.release(broken);
      }
    },
    {
      retries: 3,
      baseDelayMs: 200,
      maxDelayMs: 1000,
      isRetryable: (error) => !(error instanceof TxboxError) || error.code === 'CONNECTION_FAILED',
    },
  );
}
