import { type DatabaseInput, exportMigrationSql, type MigrationStatus, migrate, migrationStatus } from '@txbox/core';
import { type MigrationSet, withDedicatedClient } from '@txbox/core/internal';

/** The outbox's numbered migrations. Never edit a released one: add the next number. */
export const outboxMigrations: MigrationSet = {
  component: 'outbox',
  migrations: [
    {
      version: 1,
      name: 'create outbox and dead letters',
      sql: `
CREATE SEQUENCE :SCHEMA.outbox_lease_token;

CREATE TABLE :SCHEMA.outbox (
  -- seq orders messages; for a shared ordering key it follows commit order because the
  -- writer holds a per-key advisory lock until commit.
  seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                uuid NOT NULL UNIQUE,
  type              text NOT NULL,
  version           integer NOT NULL,
  ordering_key      text,
  exchange          text NOT NULL,
  routing_key       text NOT NULL,
  payload           jsonb NOT NULL,
  headers           jsonb NOT NULL DEFAULT '{}',
  correlation_id    text,
  causation_id      text,
  traceparent       text,
  tracestate        text,
  occurred_at       timestamptz NOT NULL DEFAULT now(),
  available_at      timestamptz NOT NULL DEFAULT now(),
  attempts          integer NOT NULL DEFAULT 0,
  last_error        text,
  attempt_history   jsonb NOT NULL DEFAULT '[]',
  lease_owner       text,
  lease_token       bigint,
  lease_expires_at  timestamptz,
  published_at      timestamptz
);

-- The claim scans unpublished rows in seq order: this partial index keeps it O(batch)
-- however many published rows are retained.
CREATE INDEX outbox_unpublished_seq ON :SCHEMA.outbox (seq) WHERE published_at IS NULL;
-- "Is an older message of this key still unpublished?" — one probe per candidate.
CREATE INDEX outbox_unpublished_key ON :SCHEMA.outbox (ordering_key, seq)
  WHERE published_at IS NULL AND ordering_key IS NOT NULL;
-- Retention deletes published rows oldest first.
CREATE INDEX outbox_published_at ON :SCHEMA.outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE :SCHEMA.outbox_dead_letter (
  id                uuid PRIMARY KEY,
  seq               bigint NOT NULL,
  type              text NOT NULL,
  version           integer NOT NULL,
  ordering_key      text,
  exchange          text NOT NULL,
  routing_key       text NOT NULL,
  payload           jsonb NOT NULL,
  headers           jsonb NOT NULL,
  correlation_id    text,
  causation_id      text,
  traceparent       text,
  tracestate        text,
  occurred_at       timestamptz NOT NULL,
  attempts          integer NOT NULL,
  last_error        text,
  attempt_history   jsonb NOT NULL,
  reason            text NOT NULL,
  dead_lettered_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_dead_letter_at ON :SCHEMA.outbox_dead_letter (dead_lettered_at);
`,
    },
    {
      version: 2,
      name: 'claim by due time',
      sql: `
-- The claim walks unpublished rows by due time, so messages waiting for a retry or a delay
-- (however many) are never scanned before the ones that are due.
CREATE INDEX outbox_unpublished_due ON :SCHEMA.outbox (available_at, seq) WHERE published_at IS NULL;
-- Replaced by the index above: one index less to maintain on every write.
DROP INDEX :SCHEMA.outbox_unpublished_seq;
`,
    },
    {
      version: 3,
      name: 'relays awake',
      sql: `
-- A relay that is awake (it found work moments ago and polls every few milliseconds) says until
-- when, so that writers skip the NOTIFY that would wake it: PostgreSQL serializes the commits
-- of notifying transactions. Unlogged: after a crash it is empty, so writers notify again.
CREATE UNLOGGED TABLE :SCHEMA.outbox_relay_awake (
  relay_id     text PRIMARY KEY,
  awake_until  timestamptz NOT NULL
);
`,
    },
  ],
};

/** Highest outbox schema version this code knows. */
export const OUTBOX_SCHEMA_VERSION = Math.max(...outboxMigrations.migrations.map((m) => m.version));

/**
 * Creates or upgrades the outbox tables. Safe to call from every replica at startup:
 * concurrent calls serialize on an advisory lock and apply each migration once.
 */
export async function migrateOutbox(options: { database: DatabaseInput; schema?: string }): Promise<MigrationStatus> {
  const schema = options.schema ?? 'txbox';
  return withDedicatedClient(options.database, (client) => migrate(client, outboxMigrations, schema));
}

export async function outboxMigrationStatus(options: {
  database: DatabaseInput;
  schema?: string;
}): Promise<MigrationStatus> {
  const schema = options.schema ?? 'txbox';
  return withDedicatedClient(options.database, (client) => migrationStatus(client, outboxMigrations, schema));
}

/**
 * The outbox schema as SQL, for teams that own their migrations. From a TypeORM migration:
 * `await queryRunner.query(outboxMigrationSql({ schema: 'txbox' }))`.
 */
export function outboxMigrationSql(options: { schema?: string; fromVersion?: number } = {}): string {
  return exportMigrationSql(outboxMigrations, options.schema ?? 'txbox', options.fromVersion ?? 0);
}
