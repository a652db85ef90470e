// Plumbing the txbox packages share: pool handling, lifecycle, option parsing, identifier
// checks, the migration runner's internals. Published so @txbox/outbox, @txbox/inbox and
// @txbox/nestjs can use one copy; not part of the public API (no semver promise, no docs).
export { resolveAmqpConnection } from './amqp/amqp-connection.js';
export { redactText } from './amqp/redact-url.js';
export { beginWith } from './database/begin-with.js';
export {
  checkOut,
  guardPool,
  type OwnedPool,
  queryPool,
  resolvePool,
  withDedicatedClient,
} from './database/database-input.js';
export { statementName } from './database/transaction.js';
export { isUuid } from './envelope/envelope.js';
export {
  attemptOf,
  copyProperties,
  deadLetterHeaders,
  type RepublishedMessageLike,
  retryHeaders,
} from './envelope/republish-headers.js';
export { describeError } from './errors/txbox-error.js';
export {
  quoteSqlIdentifier,
  validateAmqpName,
  validateRoutingKey,
  validateSqlIdentifier,
} from './identifiers/identifiers.js';
export { every, Lifecycle, type LifecycleState, settlesWithin, sleep } from './lifecycle/lifecycle.js';
export { runMigrationCli } from './migrations/migration-cli.js';
export {
  assertSchemaCurrent,
  assertSchemaReady,
  type Migration,
  type MigrationClient,
  type MigrationSet,
  renderMigrationSql,
} from './migrations/migration-runner.js';
export { parseOptions } from './options/parse-options.js';
export { parseSelection, selectionSchema } from './options/selection-schema.js';
export { delayMsSchema, messageBytesSchema } from './options/shared-schemas.js';
export { type BackoffOptions, backoffDelayMs, backoffSchedule, jitteredBackoffMs } from './retry/backoff.js';
export { type RetryPolicyDefaults, retryPolicySchema } from './retry/retry-options.js';
export { type WithRetriesOptions, withRetries } from './retry/with-retries.js';
export { ATTR, MESSAGING_SYSTEM, SPAN_EVENTS } from './telemetry/messaging-spans.js';
export { activeMeter, activeTracer, instrumentsFor, otelApi } from './telemetry/otel-api.js';
export { type TraceableRow, traceCreate } from './telemetry/producer-context.js';
export { contextFromTraceparent, formatTraceparent } from './telemetry/trace-context.js';
