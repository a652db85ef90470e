// The public surface of @txbox/inbox: every name a user may import, and nothing internal.
// Units behind the consumer (intake, triage, delivery, settlement, failure policy) stay private
// so they can change without a breaking release.
// The one non-retryable error of txbox, re-exported where handler authors look for it.
export { NonRetryableError } from '@txbox/core';
export type { GroupQueues, ReplayResult } from './admin/dead-letter-queue.js';
export {
  createInboxAdmin,
  type GroupRef,
  InboxAdmin,
  type InboxAdminOptions,
  InboxDeadLetters,
  type InboxGroupStatus,
  type InboxStatus,
} from './admin/inbox-admin.js';
export type { InboxDeadLetter } from './admin/inbox-dead-letter.js';
export { type InboxDeadLetterFilter, MAX_INBOX_DEAD_LETTER_PAGE } from './admin/inbox-dead-letter-filter.js';
export type { InboxConsumerOptions } from './consumer/consumer-options.js';
export { createConsumer, INBOX_HEADERS, InboxConsumer } from './consumer/inbox-consumer.js';
export type { InboxStats } from './consumer/inbox-stats.js';
export type { DataSourceLike, QueryRunnerLike } from './database/handler-session.js';
export { INBOX_CHANNELS, type InboxMessageEvent } from './diagnostics/inbox-diagnostics.js';
export {
  type BoundOutbox,
  defineHandler,
  type EntityManagerLike,
  type HandlerContext,
  type HandlerRegistration,
  handlersFor,
  type MessageHandler,
} from './handlers/handler.js';
export {
  INBOX_SCHEMA_VERSION,
  inboxMigrationSql,
  inboxMigrationStatus,
  inboxMigrations,
  migrateInbox,
} from './migrations/inbox-migrations.js';
export { type InboxTables, inboxTables } from './sql/inbox-sql.js';
export { INBOX_METRICS } from './telemetry/inbox-metrics.js';
export {
  declareTopology,
  type GroupTopology,
  groupQueueNames,
  groupTopology,
  type TopologyNames,
} from './topology/topology.js';
