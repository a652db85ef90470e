/**
 * Every error txbox throws on purpose is a {@link TxboxError} with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages. Messages say what
 * happened and what to do about it; the underlying error, if any, is the native `cause`.
 */
export type TxboxErrorCode =
  | 'CONFIGURATION_INVALID'
  | 'IDENTIFIER_INVALID'
  | 'NOT_IN_TRANSACTION'
  | 'CONTRACT_UNKNOWN'
  | 'PAYLOAD_INVALID'
  | 'PAYLOAD_TOO_LARGE'
  | 'MESSAGE_INVALID'
  | 'MESSAGE_MALFORMED'
  | 'SCHEMA_TOO_NEW'
  | 'SCHEMA_NOT_MIGRATED'
  | 'PUBLISH_FAILED'
  | 'PUBLISH_UNROUTABLE'
  | 'PUBLISH_TIMEOUT'
  | 'CONNECTION_FAILED'
  | 'WAL_LEVEL_NOT_LOGICAL'
  | 'WAL_SLOT_MISSING'
  | 'WAL_SLOT_IN_USE'
  | 'HANDLER_FAILED'
  | 'NOT_FOUND'
  | 'STOPPED';

const TXBOX_ERROR = Symbol.for('txbox.error');

export class TxboxError extends Error {
  readonly code: TxboxErrorCode;
  /** False when trying the same thing again cannot succeed (bad payload, unroutable message). */
  readonly retryable: boolean;

  constructor(code: TxboxErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, TXBOX_ERROR, { value: true });
  }
}

/**
 * True for any txbox error, including one thrown by another copy of the package
 * (a CommonJS and an ESM copy can coexist in one process, so `instanceof` is not enough).
 */
export function isTxboxError(value: unknown): value is TxboxError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TXBOX_ERROR] === true;
}

/**
 * Throw from a handler when trying again cannot help (a business rule rejects the message): the
 * message goes to the dead-letter queue at once instead of through the retry steps. The relay
 * and the consumer treat every txbox error whose `retryable` is false the same way (see
 * {@link isRetryable}).
 */
export class NonRetryableError extends TxboxError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('HANDLER_FAILED', message, { ...options, retryable: false });
  }
}

/**
 * The one retry classification of txbox: any error is worth retrying unless it is a txbox
 * error marked `retryable: false` ({@link NonRetryableError}, an invalid payload, an unroutable
 * message under the dead-letter policy...).
 */
export function isRetryable(error: unknown): boolean {
  return !(isTxboxError(error) && !error.retryable);
}

/** An error's message, or the thrown value as text (handlers and drivers may throw anything). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ConfigurationError extends TxboxError {
  /** Dotted path of the offending option, e.g. `relay.batchSize`. */
  readonly option: string;
  constructor(option: string, message: string, options: { cause?: unknown } = {}) {
    super('CONFIGURATION_INVALID', `Invalid txbox option "${option}": ${message}`, options);
    this.option = option;
  }
}

export class InvalidIdentifierError extends TxboxError {
  readonly kind: string;
  readonly value: string;
  constructor(kind: string, value: string, rule: string) {
    super('IDENTIFIER_INVALID', `Invalid ${kind} ${JSON.stringify(value)}: ${rule}`);
    this.kind = kind;
    this.value = value;
  }
}

export class NotInTransactionError extends TxboxError {
  constructor(message: string) {
    super('NOT_IN_TRANSACTION', message);
  }
}

export class UnknownContractError extends TxboxError {
  readonly type: string;
  readonly version: number | undefined;
  constructor(type: string, version: number | undefined, message: string) {
    super('CONTRACT_UNKNOWN', message);
    this.type = type;
    this.version = version;
  }
}

export interface PayloadIssue {
  path: string;
  message: string;
}

export class PayloadValidationError extends TxboxError {
  readonly type: string;
  readonly version: number;
  readonly issues: readonly PayloadIssue[];
  constructor(type: string, version: number, issues: PayloadIssue[], options: { cause?: unknown } = {}) {
    const summary = issues
      .slice(0, 5)
      .map((i) => `${i.path || '(root)'}: ${i.message}`)
      .join('; ');
    super('PAYLOAD_INVALID', `Payload of ${type} v${version} does not match its contract: ${summary}`, options);
    this.type = type;
    this.version = version;
    this.issues = issues;
  }
}

export class PayloadTooLargeError extends TxboxError {
  readonly type: string;
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(type: string, sizeBytes: number, limitBytes: number) {
    super(
      'PAYLOAD_TOO_LARGE',
      `Payload of ${type} is ${sizeBytes} bytes, over the limit of ${limitBytes} bytes. ` +
        'Store large data elsewhere and send a reference, or raise the writer option "maxPayloadBytes".',
    );
    this.type = type;
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

export class MalformedMessageError extends TxboxError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MESSAGE_MALFORMED', message, options);
  }
}

/** A message given to the writer has an invalid option (id, key, delay, headers...). */
export class InvalidMessageError extends TxboxError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('MESSAGE_INVALID', `Invalid message ${field}: ${message}`);
    this.field = field;
  }
}

/** An admin operation named something that does not exist: a queue, a dead letter, a schema. */
export class NotFoundError extends TxboxError {
  /** What was looked for, e.g. `queue`, `dead letter`. */
  readonly kind: string;
  /** The missing thing's name or id. */
  readonly target: string;
  constructor(kind: string, target: string, hint: string) {
    super('NOT_FOUND', `No ${kind} ${JSON.stringify(target)}: ${hint}`);
    this.kind = kind;
    this.target = target;
  }
}
