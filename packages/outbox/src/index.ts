// The public surface of @txbox/outbox. The SQL builders and table names are on
// '@txbox/outbox/internal' (for txbox's own tests, benchmarks and tools; no semver promise).
export type { DatabaseInput } from '@txbox/core';
export { createOutboxAdmin, OutboxAdmin, type OutboxAdminOptions, type OutboxStatus } from './admin/outbox-admin.js';
export {
  type DeadLetterFilter,
  type DeadLetterPage,
  MAX_DEAD_LETTER_PAGE,
} from './dead-letters/dead-letter-filter.js';
export type { DeadLetter, DeadLetters } from './dead-letters/dead-letters.js';
export {
  type DeadLetteredEvent,
  OUTBOX_CHANNELS,
  type RelayBatchEvent,
} from './diagnostics/outbox-diagnostics.js';
export {
  migrateOutbox,
  OUTBOX_SCHEMA_VERSION,
  outboxMigrationSql,
  outboxMigrationStatus,
  outboxMigrations,
} from './migrations/outbox-migrations.js';
export { encodeOutboxRow, type OutboxRowLike } from './relay/encode-outbox-row.js';
export { createRelay, OutboxRelay } from './relay/outbox-relay.js';
export type { OutboxRelayOptions } from './relay/relay-options.js';
export {
  type DefaultRetryStrategyOptions,
  defaultRetryStrategy,
  type PublishFailure,
  type RetryDecision,
  type RetryStrategy,
} from './relay/retry-strategy.js';
export type { RelayBatchResult } from './relay/settle-batch.js';
export type { CleanupResult } from './retention/cleanup.js';
export type { OutboxStats } from './stats/stats.js';
export { OUTBOX_METRICS } from './telemetry/outbox-metrics.js';
export { WalLevelError, WalSlotInUseError, WalSlotMissingError } from './wal/wal-errors.js';
export { createWalRelay, WalRelay, type WalRelayStats } from './wal/wal-relay.js';
export type { WalRelayOptions } from './wal/wal-relay-options.js';
export { createWalSlot, dropWalSlot, type WalSlotOptions } from './wal/wal-slot.js';
export { createOutbox, OutboxWriter, type OutboxWriterOptions } from './writer/outbox-writer.js';
