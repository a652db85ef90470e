// Whether a payload valid under an old JSON Schema is still valid under the new one, keyword by
// keyword, with the field path of every difference. Pure: the contracts check runs it on the
// schemas zod 4 derives (`z.toJSONSchema(schema, { io: 'input' })`, what a consumer accepts).
// It is conservative: a keyword it does not understand that changed counts as a break.

export type SchemaChangeKind =
  | 'field-removed'
  | 'field-made-required'
  | 'required-field-added'
  | 'type-narrowed'
  | 'enum-value-removed'
  | 'constraint-narrowed'
  | 'changed'
  | 'field-added'
  | 'field-made-optional'
  | 'type-widened'
  | 'enum-value-added'
  | 'constraint-widened';

export interface SchemaChange {
  /** Dotted field path (`total.currency`, `lines[]`); empty for the payload itself. */
  path: string;
  kind: SchemaChangeKind;
  /** True when some payload valid before is refused now, or a field consumers read is gone. */
  breaking: boolean;
  detail: string;
}

type Schema = Record<string, unknown>;

/** Keywords that document a schema without changing what it accepts. */
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
]);
const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;
/** Keywords whose any new or different value refuses payloads accepted before. */
const EXACT = ['pattern', 'format', 'multipleOf', 'contentEncoding', 'contentMediaType'] as const;
const HANDLED = new Set<string>([
  'type',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'uniqueItems',
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  ...EXACT,
]);

/** Every difference between `before` and `after`, breaking ones and compatible ones. */
export function compareSchemas(before: unknown, after: unknown): SchemaChange[] {
  const out: SchemaChange[] = [];
  compare(asSchema(before), asSchema(after), '', out);
  return out;
}

function asSchema(value: unknown): Schema {
  if (value === true || value === undefined) return {};
  if (value === false) return { not: {} };
  return value as Schema;
}

function change(out: SchemaChange[], path: string, kind: SchemaChangeKind, breaking: boolean, detail: string): void {
  out.push({ path, kind, breaking, detail });
}

function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

function variants(s: Schema): Schema[] | undefined {
  const list = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  return Array.isArray(list) ? list.map(asSchema) : undefined;
}

function compare(before: Schema, after: Schema, path: string, out: SchemaChange[]): void {
  if (equal(before, after)) return;
  const oldVariants = variants(before);
  const newVariants = variants(after);
  if (oldVariants || newVariants) {
    compareUnions(oldVariants ?? [before], newVariants ?? [after], path, out);
    return;
  }
  if (!compareTypes(before, after, path, out)) return;
  compareEnums(before, after, path, out);
  compareBounds(before, after, path, out);
  compareObjects(before, after, path, out);
  compareArrays(before, after, path, out);
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (ANNOTATIONS.has(key) || HANDLED.has(key)) continue;
    if (!equal(before[key], after[key])) change(out, path, 'changed', true, `keyword "${key}" changed`);
  }
}

/** Each old alternative must still be accepted by some new one; new alternatives widen. */
function compareUnions(before: Schema[], after: Schema[], path: string, out: SchemaChange[]): void {
  const used = new Set<number>();
  for (const old of before) {
    let best: { index: number; changes: SchemaChange[] } | undefined;
    after.forEach((candidate, index) => {
      const changes: SchemaChange[] = [];
      compare(old, candidate, path, changes);
      const breaks = changes.filter((c) => c.breaking).length;
      if (!best || breaks < best.changes.filter((c) => c.breaking).length) best = { index, changes };
    });
    if (!best) {
      change(out, path, 'type-narrowed', true, `${describeType(old)} is no longer accepted`);
      continue;
    }
    used.add(best.index);
    const breaks = best.changes.filter((c) => c.breaking);
    if (breaks.length > 0 && !sharesType(old, after[best.index] as Schema)) {
      change(out, path, 'type-narrowed', true, `${describeType(old)} is no longer accepted`);
    } else out.push(...best.changes);
  }
  after.forEach((candidate, index) => {
    if (!used.has(index)) change(out, path, 'type-widened', false, `${describeType(candidate)} is now accepted too`);
  });
}

function typesOf(s: Schema): string[] | undefined {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type as string[];
  if (s.properties || s.additionalProperties !== undefined) return ['object'];
  if (s.items || s.prefixItems) return ['array'];
  return undefined;
}

function sharesType(a: Schema, b: Schema): boolean {
  const ta = typesOf(a);
  const tb = typesOf(b);
  return !ta || !tb || ta.some((t) => tb.includes(t) || (t === 'integer' && tb.includes('number')));
}

function describeType(s: Schema): string {
  if (s.const !== undefined) return `the value ${JSON.stringify(s.const)}`;
  return `type ${(typesOf(s) ?? ['any']).join(' | ')}`;
}

/** False when the types differ so much that comparing further keywords says nothing more. */
function compareTypes(before: Schema, after: Schema, path: string, out: SchemaChange[]): boolean {
  const oldTypes = typesOf(before);
  const newTypes = typesOf(after);
  if (!newTypes) {
    if (oldTypes && Object.keys(after).every((k) => ANNOTATIONS.has(k))) {
      change(out, path, 'type-widened', false, `type ${oldTypes.join(' | ')} → any`);
      return false;
    }
    return true;
  }
  if (!oldTypes) {
    change(out, path, 'type-narrowed', true, `any → type ${newTypes.join(' | ')}`);
    return false;
  }
  const lost = oldTypes.filter((t) => !newTypes.includes(t) && !(t === 'integer' && newTypes.includes('number')));
  if (lost.length > 0) {
    change(out, path, 'type-narrowed', true, `type ${oldTypes.join(' | ')} → ${newTypes.join(' | ')}`);
    return false;
  }
  const gained = newTypes.filter((t) => !oldTypes.includes(t));
  if (gained.length > 0)
    change(out, path, 'type-widened', false, `type ${oldTypes.join(' | ')} → ${newTypes.join(' | ')}`);
  return true;
}

function allowedValues(s: Schema): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum;
  return s.const !== undefined ? [s.const] : undefined;
}

function compareEnums(before: Schema, after: Schema, path: string, out: SchemaChange[]): void {
  const oldValues = allowedValues(before);
  const newValues = allowedValues(after);
  if (!newValues) {
    if (oldValues) change(out, path, 'constraint-widened', false, 'any value of the type is now accepted');
    return;
  }
  if (!oldValues) {
    change(out, path, 'constraint-narrowed', true, `now only ${newValues.map((v) => JSON.stringify(v)).join(', ')}`);
    return;
  }
  for (const value of oldValues) {
    if (!newValues.some((v) => equal(v, value))) {
      change(out, path, 'enum-value-removed', true, `value ${JSON.stringify(value)} removed`);
    }
  }
  for (const value of newValues) {
    if (!oldValues.some((v) => equal(v, value))) {
      change(out, path, 'enum-value-added', false, `value ${JSON.stringify(value)} added`);
    }
  }
}

function compareBounds(before: Schema, after: Schema, path: string, out: SchemaChange[]): void {
  const bound = (key: string, tighter: (o: number, n: number) => boolean) => {
    const o = before[key] as number | undefined;
    const n = after[key] as number | undefined;
    if (o === n) return;
    if (n !== undefined && (o === undefined || tighter(o, n))) {
      change(out, path, 'constraint-narrowed', true, `${key} ${o ?? 'none'} → ${n}`);
    } else change(out, path, 'constraint-widened', false, `${key} ${o} → ${n ?? 'none'}`);
  };
  for (const key of LOWER_BOUNDS) bound(key, (o, n) => n > o);
  for (const key of UPPER_BOUNDS) bound(key, (o, n) => n < o);
  // zod renders a string format (uuid, email…) as `format` plus its own regex; a zod upgrade
  // that rewrites the regex of an unchanged format is not a contract change.
  const sameFormat = before.format !== undefined && before.format === after.format;
  for (const key of [...EXACT, 'uniqueItems']) {
    const o = before[key];
    const n = after[key];
    if (equal(o, n) || (key === 'pattern' && sameFormat)) continue;
    if (n !== undefined && n !== false) {
      change(out, path, 'constraint-narrowed', true, `${key} ${JSON.stringify(o ?? null)} → ${JSON.stringify(n)}`);
    } else change(out, path, 'constraint-widened', false, `${key} ${JSON.stringify(o)} removed`);
  }
}

function compareObjects(before: Schema, after: Schema, path: string, out: SchemaChange[]): void {
  const oldProps = (before.properties ?? {}) as Record<string, unknown>;
  const newProps = (after.properties ?? {}) as Record<string, unknown>;
  const oldRequired = new Set((before.required ?? []) as string[]);
  const newRequired = new Set((after.required ?? []) as string[]);
  for (const [name, schema] of Object.entries(oldProps)) {
    const field = join(path, name);
    if (!(name in newProps)) {
      change(out, field, 'field-removed', true, 'field removed');
      continue;
    }
    compare(asSchema(schema), asSchema(newProps[name]), field, out);
    if (!oldRequired.has(name) && newRequired.has(name)) {
      change(out, field, 'field-made-required', true, 'optional field made required');
    } else if (oldRequired.has(name) && !newRequired.has(name)) {
      change(out, field, 'field-made-optional', false, 'required field made optional');
    }
  }
  for (const name of Object.keys(newProps)) {
    if (name in oldProps) continue;
    const field = join(path, name);
    if (newRequired.has(name)) change(out, field, 'required-field-added', true, 'required field added');
    else change(out, field, 'field-added', false, 'optional field added');
  }
  const oldExtra = before.additionalProperties;
  const newExtra = after.additionalProperties;
  if (equal(oldExtra, newExtra)) return;
  if (newExtra === false) change(out, path, 'constraint-narrowed', true, 'unknown fields are now refused');
  else if (oldExtra === false || newExtra === undefined || newExtra === true) {
    change(out, path, 'constraint-widened', false, 'unknown fields are now accepted');
  } else compare(asSchema(oldExtra), asSchema(newExtra), join(path, '*'), out);
}

function compareArrays(before: Schema, after: Schema, path: string, out: SchemaChange[]): void {
  if (before.items !== undefined || after.items !== undefined) {
    compare(asSchema(before.items), asSchema(after.items), `${path}[]`, out);
  }
  const oldTuple = (before.prefixItems ?? []) as unknown[];
  const newTuple = (after.prefixItems ?? []) as unknown[];
  for (let i = 0; i < Math.max(oldTuple.length, newTuple.length); i += 1) {
    compare(asSchema(oldTuple[i]), asSchema(newTuple[i]), `${path}[${i}]`, out);
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => equal((a as Schema)[k], (b as Schema)[k]));
}
