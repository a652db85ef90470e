// contracts check, as a specification: each change that breaks consumers of a snapshotted version
// is caught and named by contract, version and field; each compatible change passes.

import { checkContracts, takeSnapshot } from '@txbox/cli';
import { type AnyMessageContract, defineMessage } from '@txbox/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const TYPE = 'orders.order-placed';

function registry(...contracts: AnyMessageContract[]) {
  const byType = new Map<string, Map<number, AnyMessageContract>>();
  for (const c of contracts) {
    if (!byType.has(c.type)) byType.set(c.type, new Map());
    byType.get(c.type)?.set(c.version, c);
  }
  return byType;
}

const v1Shape = {
  orderId: z.string(),
  totalCents: z.number(),
  status: z.enum(['placed', 'paid']),
  note: z.string().optional(),
  lines: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
};
const V1 = defineMessage({ type: TYPE, version: 1, schema: z.object(v1Shape) });
const snapshot = takeSnapshot(registry(V1));

/** The check of a changed v1 against the snapshot of the original. */
function checkV1(schema: z.ZodType, ...others: AnyMessageContract[]) {
  return checkContracts(snapshot, registry(defineMessage({ type: TYPE, version: 1, schema }), ...others));
}

describe('contracts check: breaking changes of a snapshotted version', () => {
  const cases: [string, z.ZodType, string, string][] = [
    ['a field removed', z.object({ ...v1Shape, note: undefined }).omit({ note: true }), 'note', 'field-removed'],
    ['an optional field made required', z.object({ ...v1Shape, note: z.string() }), 'note', 'field-made-required'],
    ['a required field added', z.object({ ...v1Shape, currency: z.string() }), 'currency', 'required-field-added'],
    [
      'a type narrowed (number to integer)',
      z.object({ ...v1Shape, totalCents: z.number().int() }),
      'totalCents',
      'type-narrowed',
    ],
    [
      'a type changed (number to string)',
      z.object({ ...v1Shape, totalCents: z.string() }),
      'totalCents',
      'type-narrowed',
    ],
    ['an enum value removed', z.object({ ...v1Shape, status: z.enum(['placed']) }), 'status', 'enum-value-removed'],
    ['a constraint tightened', z.object({ ...v1Shape, orderId: z.string().min(3) }), 'orderId', 'constraint-narrowed'],
    [
      'a nested field changed in place',
      z.object({ ...v1Shape, lines: z.array(z.object({ sku: z.string(), qty: z.string() })) }),
      'lines[].qty',
      'type-narrowed',
    ],
    ['null no longer accepted', z.object({ ...v1Shape, note: z.string().optional() }), 'note', 'type-narrowed'],
  ];
  // The last case needs a snapshot where note was nullable.
  const nullable = takeSnapshot(
    registry(
      defineMessage({
        type: TYPE,
        version: 1,
        schema: z.object({ ...v1Shape, note: z.string().nullable().optional() }),
      }),
    ),
  );

  for (const [name, schema, field, kind] of cases) {
    it(`${name} fails, naming the contract and the field`, () => {
      const result =
        name === 'null no longer accepted'
          ? checkContracts(nullable, registry(defineMessage({ type: TYPE, version: 1, schema })))
          : checkV1(schema);
      expect(result.breaking).toEqual([
        expect.objectContaining({ type: TYPE, version: 1, field, kind, breaking: true }),
      ]);
      const [finding] = result.breaking;
      expect(finding?.message).toContain(`${TYPE} v1`);
      expect(finding?.message).toContain(`"${field}"`);
      expect(finding?.message).toMatch(/changed in place.*add v2 with an upcaster/);
    });
  }

  it('a snapshotted version removed fails', () => {
    const V2 = defineMessage({ type: TYPE, version: 2, schema: z.object({ id: z.string() }) });
    expect(checkContracts(snapshot, registry(V2)).breaking).toEqual([
      expect.objectContaining({ type: TYPE, version: 1, kind: 'version-removed' }),
      expect.objectContaining({ type: TYPE, version: 2, kind: 'upcaster-missing' }),
    ]);
  });

  it('a contract removed entirely fails', () => {
    const Other = defineMessage({ type: 'billing.charged', version: 1, schema: z.object({}) });
    expect(checkContracts(snapshot, registry(Other)).breaking).toEqual([
      expect.objectContaining({ type: TYPE, version: 1, kind: 'contract-removed' }),
    ]);
  });

  it('a new version without an upcaster fails', () => {
    const V2 = defineMessage({ type: TYPE, version: 2, schema: z.object({ orderId: z.string() }) });
    const result = checkContracts(snapshot, registry(V1, V2));
    expect(result.breaking).toEqual([expect.objectContaining({ type: TYPE, version: 2, kind: 'upcaster-missing' })]);
    expect(result.breaking[0]?.message).toMatch(/cannot read the v1 messages/);
  });

  it('an upcaster removed from a snapshotted version fails', () => {
    const V2 = defineMessage({
      type: TYPE,
      version: 2,
      schema: z.object({ orderId: z.string() }),
      upcast: { from: V1, transform: (v1) => ({ orderId: v1.orderId }) },
    });
    const withUpcaster = takeSnapshot(registry(V1, V2));
    const V2Bare = defineMessage({ type: TYPE, version: 2, schema: z.object({ orderId: z.string() }) });
    expect(checkContracts(withUpcaster, registry(V1, V2Bare)).breaking).toEqual([
      expect.objectContaining({ version: 2, kind: 'upcaster-removed' }),
    ]);
  });
});

describe('contracts check: compatible changes pass', () => {
  it('the unchanged contracts', () => {
    expect(checkContracts(snapshot, registry(V1))).toEqual({ breaking: [], compatible: [] });
  });

  it('an optional field added', () => {
    const result = checkV1(z.object({ ...v1Shape, giftWrap: z.boolean().optional() }));
    expect(result.breaking).toEqual([]);
    expect(result.compatible).toEqual([expect.objectContaining({ field: 'giftWrap', kind: 'field-added' })]);
  });

  it('an enum value added', () => {
    const result = checkV1(z.object({ ...v1Shape, status: z.enum(['placed', 'paid', 'shipped']) }));
    expect(result.breaking).toEqual([]);
    expect(result.compatible).toEqual([expect.objectContaining({ field: 'status', kind: 'enum-value-added' })]);
  });

  it('a required field made optional, a constraint loosened, a type widened', () => {
    const result = checkV1(
      z.object({
        ...v1Shape,
        orderId: z.string().optional(),
        lines: z.array(z.object({ sku: z.string(), qty: z.number() })),
        totalCents: z.union([z.number(), z.string()]),
      }),
    );
    expect(result.breaking).toEqual([]);
    // integer → number also drops zod's safe-integer bounds: two constraints loosened.
    expect(result.compatible.map((c) => `${c.field} ${c.kind}`).sort()).toEqual([
      'lines[].qty constraint-widened',
      'lines[].qty constraint-widened',
      'lines[].qty type-widened',
      'orderId field-made-optional',
      'totalCents type-widened',
    ]);
  });

  it('a new version with an upcaster (and v1 kept)', () => {
    const V2 = defineMessage({
      type: TYPE,
      version: 2,
      schema: z.object({ orderId: z.string(), total: z.object({ cents: z.number(), currency: z.string() }) }),
      upcast: {
        from: V1,
        transform: (v1) => ({ orderId: v1.orderId, total: { cents: v1.totalCents, currency: 'EUR' } }),
      },
    });
    const result = checkContracts(snapshot, registry(V1, V2));
    expect(result.breaking).toEqual([]);
    expect(result.compatible).toEqual([expect.objectContaining({ version: 2, kind: 'version-added' })]);
  });

  it('documentation changes (descriptions) are no change at all', () => {
    const result = checkV1(z.object({ ...v1Shape, orderId: z.string().describe('the order') }));
    expect(result).toEqual({ breaking: [], compatible: [] });
  });
});
