import {
  type AmqpMessageLike,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodeOptions,
  decodeAmqpMessage,
  type Envelope,
  encodeAmqpMessage,
  isReservedHeader,
  MalformedMessageError,
  WIRE_HEADERS,
} from '@txbox/core';
import { describe, expect, it } from 'vitest';

function fullEnvelope(overrides: Partial<Envelope<unknown>> = {}): Envelope<unknown> {
  return {
    id: '0190a6f0-1234-7abc-8def-0123456789ab',
    type: 'orders.order-placed',
    version: 3,
    occurredAt: new Date('2025-03-04T05:06:07.089Z'),
    key: 'order:42',
    correlationId: 'corr-7',
    causationId: 'cause-9',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'congo=t61rcWkgMzE',
    headers: { tenant: 'acme', 'x-request-id': 'req-1', empty: '' },
    payload: { orderId: 'o-42', lines: [{ sku: 'ä€😀', qty: 2 }], note: null },
    ...overrides,
  };
}

function minimalEnvelope(): Envelope<unknown> {
  return fullEnvelope({
    key: null,
    correlationId: null,
    causationId: null,
    traceparent: null,
    tracestate: null,
    headers: {},
  });
}

/** A delivered message as amqplib hands it to a consumer. */
function delivered(overrides: Partial<AmqpMessageLike['properties']> = {}, body = '{"a":1}'): AmqpMessageLike {
  return {
    content: Buffer.from(body, 'utf8'),
    properties: {
      messageId: 'm-1',
      type: 'orders.order-placed',
      timestamp: 1_700_000_000,
      headers: { [WIRE_HEADERS.version]: 2, [WIRE_HEADERS.occurredAt]: '2025-01-02T03:04:05.678Z' },
      ...overrides,
    },
  };
}

function decodeError(message: AmqpMessageLike, options: DecodeOptions = {}): MalformedMessageError {
  try {
    decodeAmqpMessage(message, options);
  } catch (error) {
    return error as MalformedMessageError;
  }
  throw new Error('expected decodeAmqpMessage to throw');
}

describe('encodeAmqpMessage / decodeAmqpMessage', () => {
  it('round-trips every envelope field', () => {
    const envelope = fullEnvelope();
    const decoded = decodeAmqpMessage(encodeAmqpMessage(envelope));
    expect(decoded).toEqual(envelope);
    expect(decoded.occurredAt.getTime()).toBe(envelope.occurredAt.getTime());
    expect(decoded.occurredAt.getUTCMilliseconds()).toBe(89);
  });

  it('round-trips an envelope whose optional fields are all null', () => {
    const envelope = minimalEnvelope();
    expect(decodeAmqpMessage(encodeAmqpMessage(envelope))).toEqual(envelope);
  });

  it('uses the stored payload JSON text verbatim when given', () => {
    const stored = '{"orderId":"o-42",  "total":1.50}';
    const encoded = encodeAmqpMessage(fullEnvelope({ payload: { ignored: true } }), stored);
    expect(encoded.content.toString('utf8')).toBe(stored);
    expect(decodeAmqpMessage(encoded).payload).toEqual({ orderId: 'o-42', total: 1.5 });
  });

  it('encodes the payload as UTF-8 JSON', () => {
    const envelope = fullEnvelope();
    const { content } = encodeAmqpMessage(envelope);
    expect(Buffer.isBuffer(content)).toBe(true);
    expect(JSON.parse(content.toString('utf8'))).toEqual(envelope.payload);
  });

  it('sets the documented AMQP properties', () => {
    const envelope = fullEnvelope({ occurredAt: new Date('2025-03-04T05:06:07.999Z') });
    const { properties } = encodeAmqpMessage(envelope);
    expect(properties).toMatchObject({
      messageId: envelope.id,
      type: 'orders.order-placed',
      timestamp: Math.floor(Date.parse('2025-03-04T05:06:07Z') / 1000),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      persistent: true,
      correlationId: 'corr-7',
    });
    expect(Number.isInteger(properties.timestamp)).toBe(true);
  });

  it('sets the documented txbox headers next to the user headers', () => {
    const envelope = fullEnvelope();
    expect(encodeAmqpMessage(envelope).properties.headers).toEqual({
      'x-txbox-version': 3,
      'x-txbox-occurred-at': '2025-03-04T05:06:07.089Z',
      'x-txbox-key': 'order:42',
      'x-txbox-causation-id': 'cause-9',
      'x-txbox-partition-key': 'order:42',
      traceparent: envelope.traceparent,
      tracestate: envelope.tracestate,
      tenant: 'acme',
      'x-request-id': 'req-1',
      empty: '',
    });
  });

  it('omits null optional fields from properties and headers', () => {
    const { properties } = encodeAmqpMessage(minimalEnvelope());
    expect('correlationId' in properties).toBe(false);
    expect(properties.headers).toEqual({
      'x-txbox-version': 3,
      'x-txbox-occurred-at': '2025-03-04T05:06:07.089Z',
      // Without a key, a partitioned group spreads the message by its id.
      'x-txbox-partition-key': minimalEnvelope().id,
    });
  });

  it('does not mutate the envelope headers', () => {
    const envelope = fullEnvelope();
    const before = { ...envelope.headers };
    encodeAmqpMessage(envelope);
    expect(envelope.headers).toEqual(before);
  });
});

describe('decodeAmqpMessage', () => {
  it('decodes a message from another producer: version header as a numeric string', () => {
    const envelope = decodeAmqpMessage(delivered({ headers: { 'x-txbox-version': '5' } }));
    expect(envelope.version).toBe(5);
  });

  it('treats a missing version header as version 1', () => {
    expect(decodeAmqpMessage(delivered({ headers: {} })).version).toBe(1);
    expect(decodeAmqpMessage(delivered({ headers: undefined })).version).toBe(1);
  });

  it('falls back to the timestamp property (seconds) when there is no occurred-at header', () => {
    const envelope = decodeAmqpMessage(delivered({ headers: {}, timestamp: 1_700_000_000 }));
    expect(envelope.occurredAt.toISOString()).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('prefers the occurred-at header (milliseconds) over the timestamp property', () => {
    const envelope = decodeAmqpMessage(delivered());
    expect(envelope.occurredAt.toISOString()).toBe('2025-01-02T03:04:05.678Z');
  });

  it('decodes absent optional fields as null and no user headers as {}', () => {
    const envelope = decodeAmqpMessage(delivered());
    expect(envelope).toEqual({
      id: 'm-1',
      type: 'orders.order-placed',
      version: 2,
      occurredAt: new Date('2025-01-02T03:04:05.678Z'),
      key: null,
      correlationId: null,
      causationId: null,
      traceparent: null,
      tracestate: null,
      headers: {},
      payload: { a: 1 },
    });
  });

  it('decodes Buffer-valued headers (as amqplib delivers byte arrays) to strings', () => {
    const envelope = decodeAmqpMessage(
      delivered({
        headers: {
          'x-txbox-version': 2,
          'x-txbox-occurred-at': Buffer.from('2025-01-02T03:04:05.678Z'),
          'x-txbox-key': Buffer.from('order:1'),
          'x-txbox-causation-id': Buffer.from('cause-1'),
          traceparent: Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
          tracestate: Buffer.from('a=b'),
          tenant: Buffer.from('ünïcode'),
        },
      }),
    );
    expect(envelope).toMatchObject({
      occurredAt: new Date('2025-01-02T03:04:05.678Z'),
      key: 'order:1',
      causationId: 'cause-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'a=b',
      headers: { tenant: 'ünïcode' },
    });
  });

  it('decodes a Buffer-valued version header like the other Buffer-valued headers', () => {
    const envelope = decodeAmqpMessage(delivered({ headers: { 'x-txbox-version': Buffer.from('4') } }));
    expect(envelope.version).toBe(4);
  });

  it('drops broker bookkeeping (x-death, x-first-death-*) and non-string headers from the user headers', () => {
    const envelope = decodeAmqpMessage(
      delivered({
        headers: {
          'x-txbox-version': 1,
          'x-death': [{ count: 1, reason: 'rejected', queue: 'q', time: { '!': 'timestamp', value: 1 } }],
          'x-first-death-reason': 'rejected',
          'x-delay': 1000,
          'x-flag': true,
          'x-null': null,
          tenant: 'acme',
        },
      }),
    );
    expect(envelope.headers).toEqual({ tenant: 'acme' });
  });

  it("hands the handler only the message's own headers on a retried delivery, so forwarding them is safe", () => {
    const envelope = decodeAmqpMessage(
      delivered({
        headers: {
          'x-txbox-version': 1,
          'x-txbox-attempt': 2,
          'x-txbox-attempt-history': '[{"attempt":1}]',
          'x-txbox-original-exchange': 'txbox.events',
          'x-txbox-original-routing-key': 'orders.order-placed',
          'x-first-death-exchange': 'txbox.events.retry',
          'x-first-death-queue': 'g.retry.1',
          'x-first-death-reason': 'expired',
          'x-last-death-reason': 'expired',
          'x-delivery-count': 2,
          'x-request-id': 'req-1',
          tenant: 'acme',
        },
      }),
    );
    expect(envelope.headers).toEqual({ 'x-request-id': 'req-1', tenant: 'acme' });
    for (const name of Object.keys(envelope.headers)) expect(isReservedHeader(name)).toBe(false);
  });

  it('does not copy txbox wire headers into the user headers', () => {
    const envelope = decodeAmqpMessage(encodeAmqpMessage(fullEnvelope()));
    for (const name of Object.values(WIRE_HEADERS)) expect(envelope.headers).not.toHaveProperty(name);
  });

  it('does not mutate the delivered message headers', () => {
    const message = delivered({ headers: { 'x-txbox-version': 1, 'x-txbox-key': 'k', tenant: 'acme' } });
    decodeAmqpMessage(message);
    expect(message.properties.headers).toEqual({ 'x-txbox-version': 1, 'x-txbox-key': 'k', tenant: 'acme' });
  });

  it('rejects a body that is not JSON with MalformedMessageError (MESSAGE_MALFORMED), keeping the parse error as cause', () => {
    for (const body of ['not json', '', '{"a":', '\u00ff\u00fe']) {
      const error = decodeError(delivered({}, body));
      expect(error).toBeInstanceOf(MalformedMessageError);
      expect(error.code).toBe('MESSAGE_MALFORMED');
      expect(error.message).toContain('m-1');
      expect(error.cause).toBeInstanceOf(SyntaxError);
    }
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 42],
  ])('rejects a %s message-id with MalformedMessageError (MESSAGE_MALFORMED)', (_label, messageId) => {
    const error = decodeError(delivered({ messageId }));
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error.code).toBe('MESSAGE_MALFORMED');
    expect(error.message).toMatch(/message-id/);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
  ])('rejects a %s type with MalformedMessageError (MESSAGE_MALFORMED)', (_label, type) => {
    const error = decodeError(delivered({ type }));
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error.code).toBe('MESSAGE_MALFORMED');
    expect(error.message).toMatch(/type/);
  });

  it.each([['abc'], [0], [-1], [1.5], ['0'], ['-1'], ['1.5'], [''], [Number.NaN], [2 ** 53], [true], [{ value: 2 }]])(
    'rejects the garbled version header %j with MalformedMessageError (MESSAGE_MALFORMED)',
    (version) => {
      const error = decodeError(delivered({ headers: { 'x-txbox-version': version } }));
      expect(error).toBeInstanceOf(MalformedMessageError);
      expect(error.code).toBe('MESSAGE_MALFORMED');
      expect(error.message).toContain('x-txbox-version');
    },
  );

  it.each([
    ['garbage', 'not-a-date'],
    ['an empty string', ''],
    ['a number', 1_700_000_000_000],
    ['an object', { '!': 'timestamp', value: 1 }],
  ])('rejects an occurred-at header that is %s with MalformedMessageError (MESSAGE_MALFORMED)', (_label, value) => {
    const error = decodeError(delivered({ headers: { 'x-txbox-occurred-at': value } }));
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error.code).toBe('MESSAGE_MALFORMED');
    expect(error.message).toContain('x-txbox-occurred-at');
  });

  it('rejects a non-string key header with MalformedMessageError (MESSAGE_MALFORMED)', () => {
    const error = decodeError(delivered({ headers: { 'x-txbox-key': 42 } }));
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error.code).toBe('MESSAGE_MALFORMED');
  });

  it('ignores a correlation-id property that is not a string', () => {
    expect(decodeAmqpMessage(delivered({ correlationId: 7 })).correlationId).toBeNull();
    expect(decodeAmqpMessage(delivered({ correlationId: 'c' })).correlationId).toBe('c');
  });
});

describe('decodeAmqpMessage: bytes it cannot read faithfully', () => {
  const latin1Cafe = Buffer.from('{"name":"caf\xe9"}', 'latin1');

  it('rejects a body that is not valid UTF-8 (a Latin-1 café) instead of replacing the byte', () => {
    const error = decodeError({ ...delivered(), content: latin1Cafe });
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error.message).toBe('Message m-1 body is not valid UTF-8');
  });

  it('rejects a body that starts with a UTF-8 byte order mark', () => {
    const error = decodeError({
      ...delivered(),
      content: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')]),
    });
    expect(error.message).toContain('byte order mark');
  });

  it.each(['gzip', 'latin1', 'utf-16'])('rejects content-encoding %j', (encoding) => {
    const error = decodeError(delivered({ contentEncoding: encoding }));
    expect(error.message).toContain(`content-encoding "${encoding}"`);
  });

  it.each(['utf-8', 'UTF-8', 'utf8', undefined])('accepts content-encoding %j', (encoding) => {
    expect(decodeAmqpMessage(delivered({ contentEncoding: encoding })).payload).toEqual({ a: 1 });
  });

  it('rejects a body over maxMessageBytes, and accepts one at the limit', () => {
    const body = JSON.stringify({ pad: 'x'.repeat(90) });
    expect(Buffer.byteLength(body)).toBe(100);
    expect(decodeAmqpMessage(delivered({}, body), { maxMessageBytes: 100 }).payload).toEqual({ pad: 'x'.repeat(90) });
    const error = decodeError(delivered({}, `${body} `), { maxMessageBytes: 100 });
    expect(error.message).toBe("Message m-1 body is 101 bytes, over the consumer's maxMessageBytes of 100");
  });

  it("limits bodies to the writer's 256 KiB by default", () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(256 * 1024);
    const body = JSON.stringify({ pad: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES) });
    expect(decodeError(delivered({}, body)).message).toContain('maxMessageBytes');
  });
});

describe('decodeAmqpMessage: header values it cannot read faithfully', () => {
  it.each(['0x2', '1e0', ' 2', '2.0', '', '-1', '0'])(
    'rejects x-txbox-version %j (only decimal digits, from 1)',
    (raw) => {
      expect(decodeError(delivered({ headers: { [WIRE_HEADERS.version]: raw } })).message).toContain(
        'invalid x-txbox-version',
      );
    },
  );

  it('accepts x-txbox-version as digits in a byte array and as an integral double', () => {
    expect(decodeAmqpMessage(delivered({ headers: { [WIRE_HEADERS.version]: Buffer.from('12') } })).version).toBe(12);
    expect(decodeAmqpMessage(delivered({ headers: { [WIRE_HEADERS.version]: 3.0 } })).version).toBe(3);
  });

  it('rejects a byte-array header that is not valid UTF-8 instead of altering it', () => {
    const latin1 = Buffer.from('caf\xe9', 'latin1');
    expect(decodeError(delivered({ headers: { tenant: latin1 } })).message).toBe(
      'Header tenant is a byte array that is not valid UTF-8',
    );
    expect(decodeError(delivered({ headers: { [WIRE_HEADERS.key]: latin1 } })).message).toContain(WIRE_HEADERS.key);
  });
});

describe('isReservedHeader', () => {
  it.each(['x-txbox-version', 'x-txbox-anything', 'X-TxBox-Key', 'traceparent', 'tracestate', 'TraceParent'])(
    'reserves %s',
    (name) => {
      expect(isReservedHeader(name)).toBe(true);
    },
  );

  it.each(['tenant', 'x-request-id', 'x-txbox', 'x-death', 'traceparent-extra', 'my-tracestate'])(
    'leaves %s to the user',
    (name) => {
      expect(isReservedHeader(name)).toBe(false);
    },
  );

  it('reserves every wire header txbox writes', () => {
    for (const name of Object.values(WIRE_HEADERS)) expect(isReservedHeader(name)).toBe(true);
  });
});
