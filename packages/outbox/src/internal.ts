// What txbox's own tests, benchmarks and tools reach into: the SQL builders, the table names and
// the stats query. Not a public API (no semver promise): applications use OutboxAdmin.
export { DeadLetters } from './dead-letters/dead-letters.js';
export * as outboxSql from './sql/outbox-sql.js';
export { type OutboxTables, outboxTables } from './sql/outbox-tables.js';
export { readOutboxStats } from './stats/stats.js';
export { StreamQueue } from './wal/stream-queue.js';
export { decodeWalMessage, encodeWalMessage } from './wal/wal-message.js';
export { planWalBatch, routeBatch } from './wal/wal-plan.js';
export { formatLsn, parseLsn, parsePgoutput, standbyStatusUpdate } from './wal/wal-protocol.js';
