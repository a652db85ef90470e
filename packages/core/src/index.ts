// The public surface of @txbox/core: what users and adapters call. Plumbing the txbox packages
// share (pools, lifecycle, option parsing, backoff, republish headers) is on '@txbox/core/internal';
// contracts alone, without the AMQP and PostgreSQL clients, on '@txbox/core/contracts'.
export { AmqpConnection, type AmqpConnectionEvents, type AmqpConnectionOptions } from './amqp/amqp-connection.js';
export { redactUrl } from './amqp/redact-url.js';
// Contracts and their registry: the same names '@txbox/core/contracts' exports on its own.
export * from './contracts.js';
export type { DatabaseInput } from './database/database-input.js';
export {
  fromPg,
  fromTypeOrm,
  isTransaction,
  type PgClientLike,
  type SqlExecutor,
  type SqlResult,
  type Transaction,
  type TransactionDriver,
  type TypeOrmEntityManagerLike,
  toTransaction,
} from './database/transaction.js';
export type { SessionFactory, TransactionSession } from './database/transaction-session.js';
export {
  type AmqpMessageLike,
  type AmqpPublishProperties,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodeOptions,
  decodeAmqpMessage,
  type EncodedAmqpMessage,
  encodeAmqpMessage,
  isBookkeepingHeader,
  isBrokerHeader,
  isReservedHeader,
  WIRE_HEADERS,
} from './envelope/amqp-codec.js';
export { type Envelope, newMessageId } from './envelope/envelope.js';
export { type AttemptRecord, REPUBLISH_HEADERS } from './envelope/republish-headers.js';
export {
  ConfigurationError,
  InvalidIdentifierError,
  InvalidMessageError,
  isRetryable,
  isTxboxError,
  MalformedMessageError,
  NonRetryableError,
  NotFoundError,
  NotInTransactionError,
  type PayloadIssue,
  PayloadTooLargeError,
  PayloadValidationError,
  TxboxError,
  type TxboxErrorCode,
  UnknownContractError,
} from './errors/txbox-error.js';
export { consoleLogger, fromPino, type PinoLike, silentLogger, type TxboxLogger } from './logger/logger.js';
export {
  exportMigrationSql,
  type MigrationStatus,
  migrate,
  migrationStatus,
} from './migrations/migration-runner.js';
export type { OutboxPort } from './ports/outbox-port.js';
