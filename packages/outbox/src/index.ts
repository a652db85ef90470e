export { OutboxWriter, createOutbox, type OutboxWriterOptions } from './writer/outbox-writer.js';
export { OutboxRelay, createRelay, type OutboxRelayOptions, type RelayBatchResult } from './relay/outbox-relay.js';
export {
  defaultRetryStrategy,
  type RetryStrategy,
  type RetryDecision,
  type PublishFailure,
  type DefaultRetryStrategyOptions,
} from './relay/retry-strategy.js';
export { DeadLetters, type DeadLetter } from './dead-letters/dead-letters.js';
export type { OutboxStats } from './stats/stats.js';
export type { CleanupResult } from './retention/cleanup.js';
export {
  OUTBOX_CHANNELS,
  type RelayBatchEvent,
  type DeadLetteredEvent,
} from './diagnostics/outbox-diagnostics.js';
export {
  migrateOutbox,
  outboxMigrationStatus,
  outboxMigrationSql,
  outboxMigrations,
  OUTBOX_SCHEMA_VERSION,
} from './migrations/outbox-migrations.js';
export type { DatabaseInput } from './database/database-input.js';
export { outboxTables, type OutboxTables } from './sql/outbox-tables.js';
export * as outboxSql from './sql/outbox-sql.js';
