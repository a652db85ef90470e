// The inbox table's numbered migrations and the functions that apply, export or inspect them.
// The consumer refuses to start on a schema it does not know, so the schema version lives here,
// next to the SQL that defines it.
import { type DatabaseInput, exportMigrationSql, type MigrationStatus, migrate, migrationStatus } from '@txbox/core';
import { type MigrationSet, withDedicatedClient } from '@txbox/core/internal';

/** The inbox's numbered migrations. Never edit a released one: add the next number. */
export const inboxMigrations: MigrationSet = {
  component: 'inbox',
  migrations: [
    {
      version: 1,
      name: 'create inbox',
      sql: `
CREATE TABLE :SCHEMA.inbox (
  -- One row per (consumer group, message id) whose handler committed. The primary key is
  -- the deduplication: a second delivery of the id conflicts here, in the same transaction
  -- as the handler's writes, so it can never apply them twice.
  consumer_group  text NOT NULL,
  message_id      text NOT NULL,
  type            text NOT NULL,
  version         integer NOT NULL,
  -- Delivery attempt that succeeded (1 = first try; higher after retries through delay queues).
  attempts        integer NOT NULL DEFAULT 1,
  received_at     timestamptz NOT NULL,
  processed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, message_id)
);
-- Retention deletes oldest first, in small batches.
CREATE INDEX inbox_processed_at ON :SCHEMA.inbox (processed_at);
`,
    },
  ],
};

/** Highest inbox schema version this code knows. */
export const INBOX_SCHEMA_VERSION = Math.max(...inboxMigrations.migrations.map((m) => m.version));

/** Creates or upgrades the inbox table. Safe to call from every replica at startup. */
export async function migrateInbox(options: { database: DatabaseInput; schema?: string }): Promise<MigrationStatus> {
  return withDedicatedClient(options.database, (client) => migrate(client, inboxMigrations, options.schema ?? 'txbox'));
}

export async function inboxMigrationStatus(options: {
  database: DatabaseInput;
  schema?: string;
}): Promise<MigrationStatus> {
  return withDedicatedClient(options.database, (client) =>
    migrationStatus(client, inboxMigrations, options.schema ?? 'txbox'),
  );
}

/** The inbox schema as SQL, for teams that own their migrations (e.g. from a TypeORM migration). */
export function inboxMigrationSql(options: { schema?: string; fromVersion?: number } = {}): string {
  return exportMigrationSql(inboxMigrations, options.schema ?? 'txbox', options.fromVersion ?? 0);
}
