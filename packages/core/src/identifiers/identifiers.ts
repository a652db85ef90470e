import { InvalidIdentifierError } from '../errors/txbox-error.js';

// Deliberately stricter than PostgreSQL: lower-case, unquoted-style names only, so that a
// name means the same thing in our SQL, in psql and in the user's own migrations.
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const SQL_IDENTIFIER_MAX = 63; // NAMEDATALEN - 1

/** Validates a PostgreSQL identifier (schema or table name) and returns it unchanged. */
export function validateSqlIdentifier(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidIdentifierError(kind, String(value), 'must be a non-empty string');
  }
  if (value.length > SQL_IDENTIFIER_MAX) {
    throw new InvalidIdentifierError(kind, value, `must be at most ${SQL_IDENTIFIER_MAX} characters`);
  }
  if (!SQL_IDENTIFIER.test(value)) {
    throw new InvalidIdentifierError(
      kind,
      value,
      'use lower-case letters, digits and underscores, starting with a letter or underscore',
    );
  }
  return value;
}

/** Validates, then double-quotes, a PostgreSQL identifier for direct use in SQL text. */
export function quoteSqlIdentifier(kind: string, value: unknown): string {
  return `"${validateSqlIdentifier(kind, value)}"`;
}

// AMQP 0-9-1 short strings are at most 255 bytes; RabbitMQ reserves the "amq." prefix.
const AMQP_NAME = /^[A-Za-z0-9_.:-]+$/;

/** Validates an exchange or queue name. */
export function validateAmqpName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidIdentifierError(kind, String(value), 'must be a non-empty string');
  }
  if (Buffer.byteLength(value) > 255) {
    throw new InvalidIdentifierError(kind, value, 'must be at most 255 bytes');
  }
  if (value.startsWith('amq.')) {
    throw new InvalidIdentifierError(kind, value, 'the "amq." prefix is reserved by RabbitMQ');
  }
  if (!AMQP_NAME.test(value)) {
    throw new InvalidIdentifierError(kind, value, 'use letters, digits, ".", "_", "-" and ":" only');
  }
  return value;
}

/** Validates a routing key (topic patterns allowed: `*`, `#`). */
export function validateRoutingKey(kind: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new InvalidIdentifierError(kind, String(value), 'must be a string');
  }
  if (Buffer.byteLength(value) > 255) {
    throw new InvalidIdentifierError(kind, value, 'must be at most 255 bytes');
  }
  return value;
}
