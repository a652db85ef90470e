// The writer measures a payload as the relay will publish it: PostgreSQL's text of the stored
// jsonb. Checked here against PostgreSQL itself, value by value.
import { describe, expect, it } from 'vitest';
import { useTestSchema } from '../../../test-support/index.js';
import { decimalExpansion, JsonbTextSize } from '../src/writer/jsonb-text-size.js';

const { pool } = useTestSchema('outbox_jsonb_size');

function predicted(value: unknown): number {
  const size = new JsonbTextSize();
  const json = JSON.stringify(value, function (this: object, key, item) {
    size.visit(this, key, item);
    return item;
  });
  return size.total(Buffer.byteLength(json, 'utf8'));
}

async function actual(value: unknown): Promise<number> {
  const { rows } = await pool.query('SELECT octet_length($1::jsonb::text) AS n', [JSON.stringify(value)]);
  return rows[0].n;
}

const values: [string, unknown][] = [
  ['an empty object', {}],
  ['an empty array', []],
  ['a flat object', { a: 1, b: 'two', c: true, d: null }],
  ['nested objects and arrays', { a: [1, 2, [3, { b: [] }]], c: { d: { e: {} } } }],
  ['objects whose first member is an empty object', { a: {}, b: { c: {}, d: 1 }, e: [{}, { f: 1, g: { h: {} } }] }],
  ['an array of small numbers', Array.from({ length: 50 }, (_, i) => i)],
  [
    'numbers JavaScript writes with an exponent',
    [1e21, 1.5e300, -2e-7, 1e-7, 1.2345e-10, 5e-324, 1.7976931348623157e308],
  ],
  ['numbers written in decimal', [0, -0, 0.1, 123.456, 999999999999999900000, 1e-6, -42]],
  ['members JSON.stringify leaves out', { a: undefined, b: () => 1, c: 1, d: undefined }],
  ['holes and undefined in arrays', [undefined, () => 1, 1]],
  ['strings that need escaping', { s: 'quote " backslash \\ newline \n tab \t ctl \u0001 slash /', k: 'é ☕ 😀' }],
  ['a key that needs escaping', { 'a"b\\c': 1 }],
  ['a Date (toJSON)', { at: new Date('2025-01-02T03:04:05.678Z') }],
  ['a bare number at the root', 1e25],
  ['a bare string at the root', 'text'],
];

describe('JsonbTextSize: the bytes PostgreSQL prints for the stored jsonb', () => {
  it.each(values)('%s', async (_name, value) => {
    expect(predicted(value)).toBe(await actual(value));
  });

  it('a payload of many small numbers is larger on the wire than its compact JSON', async () => {
    const value = Array.from({ length: 1000 }, () => 1);
    expect(await actual(value)).toBeGreaterThan(Buffer.byteLength(JSON.stringify(value)));
    expect(predicted(value)).toBe(await actual(value));
  });
});

describe('decimalExpansion', () => {
  it('is zero for numbers JavaScript already writes in decimal', () => {
    for (const n of [0, 1, -1, 0.5, 123456789, 1e20, 1e-6]) expect(decimalExpansion(n)).toBe(0);
  });
  it('counts the digits an exponent stands for', () => {
    expect(decimalExpansion(1e21)).toBe(22 - '1e+21'.length);
    expect(decimalExpansion(1.5e-7)).toBe('0.00000015'.length - '1.5e-7'.length);
  });
});
