export {
  TxboxError,
  isTxboxError,
  ConfigurationError,
  InvalidIdentifierError,
  NotInTransactionError,
  UnknownContractError,
  PayloadValidationError,
  PayloadTooLargeError,
  MalformedMessageError,
  type TxboxErrorCode,
  type PayloadIssue,
} from './errors/txbox-error.js';
export { type TxboxLogger, type PinoLike, silentLogger, consoleLogger, fromPino } from './logger/logger.js';
export {
  validateSqlIdentifier,
  quoteSqlIdentifier,
  validateAmqpName,
  validateRoutingKey,
} from './identifiers/identifiers.js';
export {
  defineMessage,
  isMessageContract,
  type MessageContract,
  type AnyMessageContract,
  type PayloadOf,
  type MessageOptions,
  type OutgoingMessage,
  type Upcaster,
  type DefineMessageInput,
} from './contracts/define-message.js';
export { MessageRegistry, type ResolvedPayload } from './contracts/message-registry.js';
export { type Envelope, newMessageId, isUuid } from './envelope/envelope.js';
export {
  encodeAmqpMessage,
  decodeAmqpMessage,
  isReservedHeader,
  WIRE_HEADERS,
  type AmqpPublishProperties,
  type EncodedAmqpMessage,
  type AmqpMessageLike,
} from './envelope/amqp-codec.js';
export {
  fromPg,
  fromTypeOrm,
  toTransaction,
  isTransaction,
  type Transaction,
  type SqlExecutor,
  type SqlResult,
  type PgClientLike,
  type TypeOrmEntityManagerLike,
} from './database/transaction.js';
export { AmqpConnection, type AmqpConnectionOptions, type AmqpConnectionEvents } from './amqp/amqp-connection.js';
export { redactUrl } from './amqp/redact-url.js';
export { parseOptions } from './options/parse-options.js';
