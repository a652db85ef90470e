import { createRequire } from 'node:module';
import {
  ConfigurationError,
  InvalidIdentifierError,
  InvalidMessageError,
  isTxboxError,
  MalformedMessageError,
  NotInTransactionError,
  PayloadTooLargeError,
  PayloadValidationError,
  redactUrl,
  TxboxError,
  UnknownContractError,
} from '@txbox/core';
import { quoteSqlIdentifier, validateAmqpName, validateSqlIdentifier } from '@txbox/core/internal';
import { describe, expect, it } from 'vitest';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('validateSqlIdentifier', () => {
  it.each(['txbox', 'my_schema2', '_private', 'a', 'x'.repeat(63)])('accepts %j and returns it unchanged', (name) => {
    expect(validateSqlIdentifier('schema name', name)).toBe(name);
  });

  it.each([
    ['a double quote', 'a"b'],
    ['a single quote', "a'b"],
    ['a space', 'my schema'],
    ['upper case', 'Txbox'],
    ['a leading digit', '1schema'],
    ['a dash', 'my-schema'],
    ['a dot', 'public.t'],
    ['a semicolon (SQL injection)', '; drop table x'],
    ['a trailing newline', 'txbox\n'],
    ['a non-ASCII letter', 'schéma'],
    ['the empty string', ''],
    ['more than 63 characters', 'x'.repeat(64)],
  ])(
    'refuses a name with %s: InvalidIdentifierError (IDENTIFIER_INVALID) naming the kind and the value',
    (_label, name) => {
      const error = thrown(() => validateSqlIdentifier('schema name', name));
      expect(error).toBeInstanceOf(InvalidIdentifierError);
      expect(error).toMatchObject({ code: 'IDENTIFIER_INVALID', kind: 'schema name', value: name });
      expect(isTxboxError(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain('schema name');
      expect(message).toContain(JSON.stringify(name));
    },
  );

  it.each([
    [undefined, 'undefined'],
    [null, 'null'],
    [42, '42'],
    [true, 'true'],
  ])(
    'refuses the non-string %j: InvalidIdentifierError (IDENTIFIER_INVALID) naming the kind and the value',
    (value, shown) => {
      const error = thrown(() => validateSqlIdentifier('table name', value));
      expect(error).toBeInstanceOf(InvalidIdentifierError);
      expect(error).toMatchObject({ code: 'IDENTIFIER_INVALID', kind: 'table name', value: shown });
      expect((error as Error).message).toContain('table name');
      expect((error as Error).message).toContain(shown);
    },
  );

  it('refuses objects and arrays too', () => {
    expect(() => validateSqlIdentifier('schema name', { toString: () => 'txbox' })).toThrow(InvalidIdentifierError);
    expect(() => validateSqlIdentifier('schema name', ['txbox'])).toThrow(InvalidIdentifierError);
  });
});

describe('quoteSqlIdentifier', () => {
  it('validates, then double-quotes, the name', () => {
    expect(quoteSqlIdentifier('schema name', 'txbox')).toBe('"txbox"');
    expect(quoteSqlIdentifier('table name', 'outbox_2')).toBe('"outbox_2"');
  });

  it('refuses what validateSqlIdentifier refuses instead of escaping it', () => {
    for (const bad of ['a"b', "a'b", 'A', '', 'x'.repeat(64), '"; drop table x; --']) {
      const error = thrown(() => quoteSqlIdentifier('schema name', bad));
      expect(error).toBeInstanceOf(InvalidIdentifierError);
      expect(error).toMatchObject({ code: 'IDENTIFIER_INVALID' });
    }
  });
});

describe('validateAmqpName', () => {
  it.each(['txbox.events', 'orders-queue:v1', 'A_b.c-d:e', 'x', 'q'.repeat(255)])('accepts %j', (name) => {
    expect(validateAmqpName('exchange', name)).toBe(name);
  });

  it.each([
    ['the reserved amq. prefix', 'amq.foo'],
    ['the reserved amq. prefix alone', 'amq.'],
    ['the empty string', ''],
    ['more than 255 bytes', 'q'.repeat(256)],
    ['a space', 'my queue'],
    ['a leading space', ' queue'],
    ['a slash', 'orders/queue'],
    ['a star', 'orders.*'],
    ['a non-ASCII letter', 'événements'],
  ])('refuses a name with %s: InvalidIdentifierError (IDENTIFIER_INVALID)', (_label, name) => {
    const error = thrown(() => validateAmqpName('queue', name));
    expect(error).toBeInstanceOf(InvalidIdentifierError);
    expect(error).toMatchObject({ code: 'IDENTIFIER_INVALID', kind: 'queue', value: name });
    expect((error as Error).message).toContain('queue');
  });

  it('measures the 255 limit in bytes, not characters', () => {
    // 128 two-byte characters: 128 characters, 256 bytes.
    const error = thrown(() => validateAmqpName('exchange', 'é'.repeat(128)));
    expect(error).toBeInstanceOf(InvalidIdentifierError);
    expect((error as Error).message).toContain('255 bytes');
  });

  it.each([undefined, null, 7])('refuses the non-string %j', (value) => {
    expect(() => validateAmqpName('exchange', value)).toThrow(InvalidIdentifierError);
  });
});

describe('redactUrl', () => {
  it.each([
    ['amqp://guest:secret@rabbit:5672/vhost', 'amqp://guest:***@rabbit:5672/vhost'],
    ['amqps://user:secret@rabbit.example.com/%2F?heartbeat=10', 'amqps://user:***@rabbit.example.com/%2F?heartbeat=10'],
    ['postgres://app:secret@db:5432/orders', 'postgres://app:***@db:5432/orders'],
    ['postgresql://app:secret@db/orders?sslmode=require', 'postgresql://app:***@db/orders?sslmode=require'],
  ])('hides the password in %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('hides a percent-encoded password, and one containing an unencoded "@"', () => {
    expect(redactUrl('postgres://app:p%40ss%3Aword@db/orders')).toBe('postgres://app:***@db/orders');
    expect(redactUrl('amqp://guest:p@ss@rabbit/')).not.toMatch(/p@ss|p%40ss/);
  });

  it('hides a password given as a query parameter, which pg accepts (postgres://app@db/orders?password=...)', () => {
    const redacted = redactUrl('postgres://app@db:5432/orders?password=secret&sslmode=require');
    expect(redacted).not.toContain('secret');
    expect(redacted).toContain('db:5432/orders');
  });

  it('leaves a URL without a password readable', () => {
    expect(redactUrl('amqp://guest@rabbit:5672')).toBe('amqp://guest@rabbit:5672');
    expect(redactUrl('postgres://db:5432/orders')).toBe('postgres://db:5432/orders');
  });

  it('hides the credentials in a string it cannot parse as a URL', () => {
    const redacted = redactUrl('xx //user:secret@host');
    expect(redacted).not.toContain('secret');
    expect(redacted).toContain('host');
    expect(redactUrl('connect failed: amqp://guest:secret@rabbit:5672')).not.toContain('secret');
  });

  it('hides every password in a string holding several URLs', () => {
    const redacted = redactUrl('amqp://a:secret1@h1 failed, then amqp://b:secret2@h2 failed');
    expect(redacted).not.toContain('secret1');
    expect(redacted).not.toContain('secret2');
  });

  it('returns a string without credentials unchanged', () => {
    expect(redactUrl('not a url at all')).toBe('not a url at all');
    expect(redactUrl('')).toBe('');
  });
});

describe('errors', () => {
  const samples: Array<[string, TxboxError]> = [
    ['TxboxError', new TxboxError('STOPPED', 'stopped')],
    ['ConfigurationError', new ConfigurationError('relay.batchSize', 'must be positive')],
    ['InvalidIdentifierError', new InvalidIdentifierError('schema name', 'A', 'lower case')],
    ['NotInTransactionError', new NotInTransactionError('no')],
    ['UnknownContractError', new UnknownContractError('t', 1, 'unknown')],
    ['PayloadValidationError', new PayloadValidationError('t', 1, [{ path: 'a', message: 'bad' }])],
    ['PayloadTooLargeError', new PayloadTooLargeError('t', 2000, 1000)],
    ['MalformedMessageError', new MalformedMessageError('bad')],
    ['InvalidMessageError', new InvalidMessageError('key', 'too long')],
  ];

  it.each(samples)(
    'isTxboxError recognizes a %s, which is an Error and a TxboxError named after its class',
    (name, error) => {
      expect(isTxboxError(error)).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(TxboxError);
      expect(error.name).toBe(name);
      expect(typeof error.code).toBe('string');
      expect(error.stack).toContain(name);
    },
  );

  it('isTxboxError is false for plain errors and non-errors', () => {
    for (const value of [
      new Error('x'),
      new TypeError('x'),
      { code: 'STOPPED', message: 'x' },
      null,
      undefined,
      'x',
      1,
    ]) {
      expect(isTxboxError(value)).toBe(false);
    }
  });

  it('isTxboxError recognizes an error thrown by another copy of the package (CommonJS next to ESM)', () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@txbox/core') as typeof import('@txbox/core');
    expect(cjs.TxboxError).not.toBe(TxboxError);
    const fromCjs = new cjs.ConfigurationError('x', 'y');
    expect(fromCjs).not.toBeInstanceOf(TxboxError);
    expect(isTxboxError(fromCjs)).toBe(true);
    expect(cjs.isTxboxError(new ConfigurationError('x', 'y'))).toBe(true);
  });

  it('keeps the underlying error as the native cause, and has no cause when none was given', () => {
    const root = new Error('ECONNREFUSED');
    const error = new TxboxError('CONNECTION_FAILED', 'cannot connect', { cause: root, retryable: true });
    expect(error.cause).toBe(root);
    expect(Object.hasOwn(error, 'cause')).toBe(true);
    expect(error.retryable).toBe(true);
    const withoutCause = new TxboxError('STOPPED', 'stopped');
    expect(Object.hasOwn(withoutCause, 'cause')).toBe(false);
    expect(withoutCause.retryable).toBe(false);
    expect(new ConfigurationError('o', 'm', { cause: root }).cause).toBe(root);
  });

  it('subclasses carry their details and a message that says what happened', () => {
    const config = new ConfigurationError('relay.batchSize', 'must be positive');
    expect(config).toMatchObject({ code: 'CONFIGURATION_INVALID', option: 'relay.batchSize' });
    expect(config.message).toBe('Invalid txbox option "relay.batchSize": must be positive');
    const tooLarge = new PayloadTooLargeError('orders.placed', 2000, 1000);
    expect(tooLarge).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', sizeBytes: 2000, limitBytes: 1000 });
    expect(tooLarge.message).toContain('maxPayloadBytes');
    expect(new InvalidMessageError('key', 'too long')).toMatchObject({ code: 'MESSAGE_INVALID', field: 'key' });
    expect(new NotInTransactionError('x').code).toBe('NOT_IN_TRANSACTION');
    expect(new MalformedMessageError('x').code).toBe('MESSAGE_MALFORMED');
  });
});
