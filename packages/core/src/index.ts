export {
  AmqpConnection,
  type AmqpConnectionEvents,
  type AmqpConnectionOptions,
  resolveAmqpConnection,
} from './amqp/amqp-connection.js';
export { redactUrl } from './amqp/redact-url.js';
export {
  type AnyMessageContract,
  type DefineMessageInput,
  defineMessage,
  isMessageContract,
  type MessageContract,
  type MessageOptions,
  type OutgoingMessage,
  type PayloadOf,
  type Upcaster,
} from './contracts/define-message.js';
export { MessageRegistry, type ResolvedPayload } from './contracts/message-registry.js';
export {
  checkOut,
  type DatabaseInput,
  guardPool,
  type OwnedPool,
  queryPool,
  resolvePool,
  withDedicatedClient,
} from './database/database-input.js';
export {
  fromPg,
  fromTypeOrm,
  isTransaction,
  type PgClientLike,
  type SqlExecutor,
  type SqlResult,
  statementName,
  type Transaction,
  type TypeOrmEntityManagerLike,
  toTransaction,
} from './database/transaction.js';
export {
  type AmqpMessageLike,
  type AmqpPublishProperties,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodeOptions,
  decodeAmqpMessage,
  type EncodedAmqpMessage,
  encodeAmqpMessage,
  isBookkeepingHeader,
  isReservedHeader,
  WIRE_HEADERS,
} from './envelope/amqp-codec.js';
export { type Envelope, isUuid, newMessageId } from './envelope/envelope.js';
export {
  type AttemptRecord,
  attemptOf,
  deadLetterHeaders,
  describeError,
  REPUBLISH_HEADERS,
  type RepublishedMessageLike,
  retryHeaders,
} from './envelope/republish-headers.js';
export {
  ConfigurationError,
  InvalidIdentifierError,
  InvalidMessageError,
  isRetryable,
  isTxboxError,
  MalformedMessageError,
  NonRetryableError,
  NotInTransactionError,
  type PayloadIssue,
  PayloadTooLargeError,
  PayloadValidationError,
  TxboxError,
  type TxboxErrorCode,
  UnknownContractError,
} from './errors/txbox-error.js';
export {
  quoteSqlIdentifier,
  validateAmqpName,
  validateRoutingKey,
  validateSqlIdentifier,
} from './identifiers/identifiers.js';
export { every, Lifecycle, type LifecycleState, settlesWithin, sleep } from './lifecycle/lifecycle.js';
export { consoleLogger, fromPino, type PinoLike, silentLogger, type TxboxLogger } from './logger/logger.js';
export { runMigrationCli } from './migrations/migration-cli.js';
export {
  assertSchemaCurrent,
  assertSchemaReady,
  exportMigrationSql,
  type Migration,
  type MigrationClient,
  type MigrationSet,
  type MigrationStatus,
  migrate,
  migrationStatus,
  renderMigrationSql,
} from './migrations/migration-runner.js';
export { parseOptions } from './options/parse-options.js';
export type { OutboxPort } from './ports/outbox-port.js';
