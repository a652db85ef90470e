export {
  createConsumer,
  INBOX_HEADERS,
  InboxConsumer,
  type InboxConsumerOptions,
  type InboxStats,
} from './consumer/inbox-consumer.js';
export { KeySerializer } from './consumer/key-serializer.js';
export type { DataSourceLike, QueryRunnerLike } from './database/handler-session.js';
export { INBOX_CHANNELS, type InboxMessageEvent } from './diagnostics/inbox-diagnostics.js';
export {
  type BoundOutbox,
  defineHandler,
  type EntityManagerLike,
  type HandlerContext,
  type HandlerRegistration,
  type MessageHandler,
  NonRetryableError,
} from './handlers/handler.js';
export {
  INBOX_SCHEMA_VERSION,
  inboxMigrationSql,
  inboxMigrationStatus,
  inboxMigrations,
  migrateInbox,
} from './migrations/inbox-migrations.js';
export { type InboxTables, inboxTables } from './sql/inbox-sql.js';
export { declareTopology, type GroupTopology, groupTopology, type TopologyNames } from './topology/topology.js';
