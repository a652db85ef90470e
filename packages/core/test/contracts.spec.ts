import {
  ConfigurationError,
  defineMessage,
  isMessageContract,
  isTxboxError,
  MessageRegistry,
  PayloadValidationError,
  UnknownContractError,
} from '@txbox/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

// Three versions of one message type, each derived from the previous one.
const OrderPlacedV1 = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), total: z.number() }),
});

const OrderPlacedV2 = defineMessage({
  type: 'orders.order-placed',
  version: 2,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  upcast: {
    from: OrderPlacedV1,
    transform: (v1) => ({ orderId: v1.orderId, totalCents: Math.round(v1.total * 100) }),
  },
});

const OrderPlacedV3 = defineMessage({
  type: 'orders.order-placed',
  version: 3,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int(), currency: z.string().length(3) }),
  upcast: {
    from: OrderPlacedV2,
    transform: (v2) => ({ ...v2, currency: 'EUR' }),
  },
});

describe('defineMessage', () => {
  it('returns a frozen contract carrying type, version, schema and no upcaster for version 1', () => {
    expect(OrderPlacedV1.kind).toBe('txbox.message-contract');
    expect(OrderPlacedV1.type).toBe('orders.order-placed');
    expect(OrderPlacedV1.version).toBe(1);
    expect(OrderPlacedV1.upcaster).toBeUndefined();
    expect(Object.isFrozen(OrderPlacedV1)).toBe(true);
    expect(isMessageContract(OrderPlacedV1)).toBe(true);
    expect(isMessageContract({ type: 'x', version: 1 })).toBe(false);
    expect(isMessageContract(null)).toBe(false);
  });

  it.each(['a', 'orders.order-placed', 'Billing_Invoice:Paid-2', 'x'.repeat(200)])('accepts the type %j', (type) => {
    expect(defineMessage({ type, version: 1, schema: z.object({}) }).type).toBe(type);
  });

  it.each([
    ['an empty string', ''],
    ['a name with a space', 'orders placed'],
    ['a name starting with a dot', '.orders'],
    ['a name starting with a dash', '-orders'],
    ['a name with a slash', 'orders/placed'],
    ['a name with a quote', 'orders"placed'],
    ['a name longer than 200 characters', 'x'.repeat(201)],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses %s as type with a ConfigurationError (CONFIGURATION_INVALID)', (_label, type) => {
    const error = thrown(() => defineMessage({ type: type as string, version: 1, schema: z.object({}) }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', option: 'defineMessage.type' });
    expect(isTxboxError(error)).toBe(true);
  });

  it.each([
    ['zero', 0],
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['a numeric string', '1'],
  ])('refuses %s as version with a ConfigurationError (CONFIGURATION_INVALID)', (_label, version) => {
    const error = thrown(() => defineMessage({ type: 'a.b', version: version as number, schema: z.object({}) }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', option: 'defineMessage.version' });
  });

  it.each([
    ['undefined', undefined],
    ['a plain object', { shape: {} }],
    ['a function', () => true],
  ])('refuses %s as schema with a ConfigurationError (CONFIGURATION_INVALID)', (_label, schema) => {
    const error = thrown(() => defineMessage({ type: 'a.b', version: 1, schema: schema as never }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', option: 'defineMessage.schema' });
  });

  it('refuses an upcaster from another type or from a version that is not older', () => {
    const otherType = defineMessage({ type: 'billing.paid', version: 1, schema: z.object({}) });
    for (const [from, version] of [
      [otherType, 2],
      [OrderPlacedV2, 2],
      [OrderPlacedV3, 2],
    ] as const) {
      const error = thrown(() =>
        defineMessage({
          type: 'orders.order-placed',
          version,
          schema: z.object({}),
          upcast: { from, transform: () => ({}) },
        }),
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', option: 'defineMessage.upcast.from' });
    }
  });

  it('create() returns the contract, the payload and every option given', () => {
    const options = {
      id: '0190a6f0-0000-7000-8000-000000000001',
      key: 'order:42',
      delayMs: 500,
      routingKey: 'orders.special',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=value',
      headers: { tenant: 'acme' },
    };
    const payload = { orderId: 'o-42', total: 12.5 };
    const message = OrderPlacedV1.create(payload, options);
    expect(message).toEqual({ contract: OrderPlacedV1, payload, ...options });
    expect(message.contract).toBe(OrderPlacedV1);
  });

  it('create() without options returns just the contract and the payload', () => {
    const message = OrderPlacedV1.create({ orderId: 'o-1', total: 1 });
    expect(message).toEqual({ contract: OrderPlacedV1, payload: { orderId: 'o-1', total: 1 } });
  });

  it('create() does not validate the payload (the writer does, when it writes)', () => {
    expect(() => OrderPlacedV1.create({ orderId: 1 } as never)).not.toThrow();
  });

  it('parse() returns the parsed data, with schema transforms and defaults applied and unknown keys stripped', () => {
    const Contract = defineMessage({
      type: 'users.signed-up',
      version: 1,
      schema: z.object({ email: z.string().trim().toLowerCase(), plan: z.string().default('free') }),
    });
    expect(Contract.parse({ email: '  Ann@Example.COM ', extra: true })).toEqual({
      email: 'ann@example.com',
      plan: 'free',
    });
  });

  it('parse() throws a PayloadValidationError (PAYLOAD_INVALID) listing every issue with its dotted path', () => {
    const Contract = defineMessage({
      type: 'orders.shipped',
      version: 4,
      schema: z.object({
        orderId: z.string(),
        lines: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })),
      }),
    });
    const error = thrown(() =>
      Contract.parse({
        orderId: 7,
        lines: [
          { sku: 'a', quantity: 1 },
          { sku: 'b', quantity: 0 },
        ],
      }),
    );
    expect(error).toBeInstanceOf(PayloadValidationError);
    const e = error as PayloadValidationError;
    expect(e.code).toBe('PAYLOAD_INVALID');
    expect(e.type).toBe('orders.shipped');
    expect(e.version).toBe(4);
    expect(e.retryable).toBe(false);
    expect(e.issues.map((i) => i.path).sort()).toEqual(['lines.1.quantity', 'orderId']);
    for (const issue of e.issues) expect(issue.message).toEqual(expect.any(String));
    expect(e.message).toContain('orders.shipped v4');
    expect(e.message).toContain('orderId');
    expect(e.message).toContain('lines.1.quantity');
    expect(e.cause).toBeInstanceOf(z.ZodError);
  });

  it('parse() reports a root-level problem with an empty path', () => {
    const error = thrown(() => OrderPlacedV1.parse('not an object')) as PayloadValidationError;
    expect(error).toBeInstanceOf(PayloadValidationError);
    expect(error.issues).toEqual([{ path: '', message: expect.any(String) }]);
    expect(error.message).toContain('(root)');
  });
});

describe('MessageRegistry', () => {
  it('registers contracts and answers has() only for the exact contract object registered', () => {
    const registry = new MessageRegistry().register(OrderPlacedV1);
    expect(registry.has(OrderPlacedV1)).toBe(true);
    expect(registry.has(OrderPlacedV2)).toBe(false);
    const lookalike = defineMessage({ type: OrderPlacedV1.type, version: 1, schema: OrderPlacedV1.schema });
    expect(registry.has(lookalike)).toBe(false);
    expect(registry.types()).toEqual(['orders.order-placed']);
  });

  it('accepts contracts in its constructor', () => {
    const other = defineMessage({ type: 'billing.paid', version: 1, schema: z.object({}) });
    const registry = new MessageRegistry([OrderPlacedV1, other]);
    expect(registry.has(OrderPlacedV1)).toBe(true);
    expect(registry.has(other)).toBe(true);
    expect(registry.types().sort()).toEqual(['billing.paid', 'orders.order-placed']);
  });

  it('latest() returns the newest registered version, or undefined for an unknown type', () => {
    const registry = new MessageRegistry([OrderPlacedV1]);
    expect(registry.latest('orders.order-placed')).toBe(OrderPlacedV1);
    registry.register(OrderPlacedV3);
    expect(registry.latest('orders.order-placed')).toBe(OrderPlacedV3);
    expect(registry.latest('nope')).toBeUndefined();
  });

  it('registering the newest version also registers every older version reachable through its upcasters', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    expect(registry.has(OrderPlacedV1)).toBe(true);
    expect(registry.has(OrderPlacedV2)).toBe(true);
    expect(registry.has(OrderPlacedV3)).toBe(true);
    expect(registry.latest('orders.order-placed')).toBe(OrderPlacedV3);
  });

  it('registering the same contract twice, directly or through a chain, is harmless', () => {
    const registry = new MessageRegistry([OrderPlacedV1, OrderPlacedV2, OrderPlacedV3, OrderPlacedV3]);
    expect(registry.latest('orders.order-placed')).toBe(OrderPlacedV3);
  });

  it('refuses a different contract registered as an existing type and version', () => {
    const registry = new MessageRegistry([OrderPlacedV1]);
    const duplicate = defineMessage({ type: 'orders.order-placed', version: 1, schema: z.object({}) });
    const error = thrown(() => registry.register(duplicate));
    expect(isTxboxError(error)).toBe(true);
    expect((error as Error).message).toContain('orders.order-placed v1');
    expect(registry.has(OrderPlacedV1)).toBe(true);
    expect(registry.has(duplicate)).toBe(false);
  });

  it('refuses a chain whose older version conflicts with a registered one', () => {
    const otherV1 = defineMessage({ type: 'orders.order-placed', version: 1, schema: z.object({ id: z.string() }) });
    const registry = new MessageRegistry([otherV1]);
    expect(() => registry.register(OrderPlacedV3)).toThrow(/orders\.order-placed v1/);
  });

  it('a refused registration leaves the registry as it was', () => {
    const otherV1 = defineMessage({ type: 'orders.order-placed', version: 1, schema: z.object({ id: z.string() }) });
    const registry = new MessageRegistry([otherV1]);
    expect(() => registry.register(OrderPlacedV3)).toThrow();
    expect(registry.has(OrderPlacedV3)).toBe(false);
    expect(registry.has(OrderPlacedV2)).toBe(false);
    expect(registry.latest('orders.order-placed')).toBe(otherV1);
    expect(registry.resolve('orders.order-placed', 1, { id: 'x' })).toMatchObject({ contract: otherV1, upcast: false });
  });

  it('resolve() of the latest version validates it and returns it unchanged in shape', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    const resolved = registry.resolve('orders.order-placed', 3, {
      orderId: 'o-1',
      totalCents: 1250,
      currency: 'USD',
      extra: 'stripped',
    });
    expect(resolved).toEqual({
      contract: OrderPlacedV3,
      payload: { orderId: 'o-1', totalCents: 1250, currency: 'USD' },
      receivedVersion: 3,
      upcast: false,
    });
  });

  it('resolve() of v1 upcasts through v2 to v3', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    expect(registry.resolve('orders.order-placed', 1, { orderId: 'o-1', total: 12.5 })).toEqual({
      contract: OrderPlacedV3,
      payload: { orderId: 'o-1', totalCents: 1250, currency: 'EUR' },
      receivedVersion: 1,
      upcast: true,
    });
  });

  it('resolve() of v2 applies only the last upcaster', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    expect(registry.resolve('orders.order-placed', 2, { orderId: 'o-2', totalCents: 5 })).toEqual({
      contract: OrderPlacedV3,
      payload: { orderId: 'o-2', totalCents: 5, currency: 'EUR' },
      receivedVersion: 2,
      upcast: true,
    });
  });

  it('resolve() validates the payload against the version it was written with before upcasting', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    const error = thrown(() => registry.resolve('orders.order-placed', 1, { orderId: 'o-1', total: 'twelve' }));
    expect(error).toBeInstanceOf(PayloadValidationError);
    expect(error).toMatchObject({ code: 'PAYLOAD_INVALID', type: 'orders.order-placed', version: 1 });
    expect((error as PayloadValidationError).issues.map((i) => i.path)).toEqual(['total']);
  });

  it('resolve() validates every upcast step: an upcaster producing invalid output throws PayloadValidationError', () => {
    // This v2 upcaster forgets to round, so v1.total = 0.125 becomes 12.5 cents: not an integer.
    const SloppyV2 = defineMessage({
      type: 'orders.order-placed',
      version: 2,
      schema: OrderPlacedV2.schema,
      upcast: { from: OrderPlacedV1, transform: (v1) => ({ orderId: v1.orderId, totalCents: v1.total * 100 }) },
    });
    let v3StepRan = false;
    const V3 = defineMessage({
      type: 'orders.order-placed',
      version: 3,
      schema: OrderPlacedV3.schema,
      upcast: {
        from: SloppyV2,
        transform: (v2) => {
          v3StepRan = true;
          return { ...v2, currency: 'EUR' };
        },
      },
    });
    const registry = new MessageRegistry([V3]);
    expect(registry.resolve('orders.order-placed', 1, { orderId: 'o-1', total: 0.25 }).payload).toEqual({
      orderId: 'o-1',
      totalCents: 25,
      currency: 'EUR',
    });
    v3StepRan = false;
    const error = thrown(() => registry.resolve('orders.order-placed', 1, { orderId: 'o-1', total: 0.125 }));
    expect(error).toBeInstanceOf(PayloadValidationError);
    expect(error).toMatchObject({ code: 'PAYLOAD_INVALID', version: 2 });
    expect((error as PayloadValidationError).issues.map((i) => i.path)).toEqual(['totalCents']);
    expect(v3StepRan).toBe(false);
  });

  it('resolve() validates the last step against the newest schema', () => {
    const BadV3 = defineMessage({
      type: 'orders.order-placed',
      version: 3,
      schema: OrderPlacedV3.schema,
      upcast: { from: OrderPlacedV2, transform: (v2) => ({ ...v2, currency: 'EURO' }) },
    });
    const registry = new MessageRegistry([BadV3]);
    const error = thrown(() => registry.resolve('orders.order-placed', 2, { orderId: 'o', totalCents: 1 }));
    expect(error).toBeInstanceOf(PayloadValidationError);
    expect(error).toMatchObject({ version: 3 });
    expect((error as PayloadValidationError).issues.map((i) => i.path)).toEqual(['currency']);
  });

  it('resolve() of an unknown type throws UnknownContractError (CONTRACT_UNKNOWN)', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    const error = thrown(() => registry.resolve('orders.cancelled', 1, {}));
    expect(error).toBeInstanceOf(UnknownContractError);
    expect(error).toMatchObject({ code: 'CONTRACT_UNKNOWN', type: 'orders.cancelled', version: 1 });
    expect((error as Error).message).toContain('orders.cancelled');
  });

  it('resolve() of an unknown version throws UnknownContractError (CONTRACT_UNKNOWN) naming the known versions', () => {
    const registry = new MessageRegistry([OrderPlacedV3]);
    const error = thrown(() => registry.resolve('orders.order-placed', 4, {}));
    expect(error).toBeInstanceOf(UnknownContractError);
    expect(error).toMatchObject({ code: 'CONTRACT_UNKNOWN', type: 'orders.order-placed', version: 4 });
    expect((error as Error).message).toContain('known: 1, 2, 3');
  });

  it('resolve() lists the known versions in numeric order', () => {
    const v2 = defineMessage({ type: 't', version: 2, schema: z.object({}) });
    const v10 = defineMessage({ type: 't', version: 10, schema: z.object({}) });
    const registry = new MessageRegistry([v10, v2]);
    expect(() => registry.resolve('t', 3, {})).toThrow(/known: 2, 10\)/);
  });

  it('resolve() refuses (CONTRACT_UNKNOWN) an older version the newest one has no upcaster chain from', () => {
    const v1 = defineMessage({ type: 'inventory.adjusted', version: 1, schema: z.object({ qty: z.number() }) });
    const v2 = defineMessage({ type: 'inventory.adjusted', version: 2, schema: z.object({ quantity: z.number() }) });
    const registry = new MessageRegistry([v1, v2]);
    const error = thrown(() => registry.resolve('inventory.adjusted', 1, { qty: 1 }));
    expect(error).toBeInstanceOf(UnknownContractError);
    expect(error).toMatchObject({ code: 'CONTRACT_UNKNOWN', version: 1 });
    expect((error as Error).message).toContain('cannot be upcast');
  });

  it('resolve() follows an upcaster that skips versions', () => {
    const v1 = defineMessage({ type: 'inventory.moved', version: 1, schema: z.object({ qty: z.number() }) });
    const v3 = defineMessage({
      type: 'inventory.moved',
      version: 3,
      schema: z.object({ quantity: z.number() }),
      upcast: { from: v1, transform: (p) => ({ quantity: p.qty }) },
    });
    const registry = new MessageRegistry([v3]);
    expect(registry.resolve('inventory.moved', 1, { qty: 4 })).toEqual({
      contract: v3,
      payload: { quantity: 4 },
      receivedVersion: 1,
      upcast: true,
    });
  });
});
