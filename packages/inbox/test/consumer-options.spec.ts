import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { consumerOptionsSchema } from '../src/consumer/consumer-options.js';

const sourcePath = new URL('../src/consumer/consumer-options.ts', import.meta.url);

/** `@defaultValue` texts of InboxConsumerOptions, by property path (`batch.maxMessages`). */
function documentedDefaults(): Map<string, string> {
  const source = ts.createSourceFile(
    'consumer-options.ts',
    readFileSync(sourcePath, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const found = new Map<string, string>();
  const visit = (members: ts.NodeArray<ts.TypeElement>, prefix: string) => {
    for (const member of members) {
      if (!ts.isPropertySignature(member)) continue;
      const name = `${prefix}${member.name.getText(source)}`;
      if (member.type && ts.isTypeLiteralNode(member.type)) visit(member.type.members, `${name}.`);
      const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'defaultValue');
      if (tag) found.set(name, (ts.getTextOfJSDocComment(tag.comment) ?? '').trim());
    }
  };
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === 'InboxConsumerOptions') visit(node.members, '');
  });
  return found;
}

function valueAt(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown> | undefined)?.[key], object);
}

describe('consumer options', () => {
  const resolved = consumerOptionsSchema.parse({ group: 'g' });
  // Defaults inside optional objects apply once the object is given (its required fields only).
  const withOptionalObjects = consumerOptionsSchema.parse({ group: 'g', partitions: { count: 1 } });

  it('every literal @defaultValue is the default the schema applies', () => {
    const checked: string[] = [];
    for (const [path, text] of documentedDefaults()) {
      const literal = /^`([^`]+)`/.exec(text)?.[1];
      if (literal === undefined || !/^('[^']*'|-?\d+|true|false)$/.test(literal)) continue;
      const expected = literal.startsWith("'") ? literal.slice(1, -1) : JSON.parse(literal);
      expect(valueAt(withOptionalObjects, path), path).toEqual(expected);
      checked.push(path);
    }
    expect(checked).toContain('batch.maxMessages');
    expect(checked).toContain('retention.processedMs');
    expect(checked).toContain('partitions.leaseMs');
    expect(checked.length).toBeGreaterThanOrEqual(14);
  });

  it('derives prefetch from concurrency and the batch size unless it is given', () => {
    expect(resolved.prefetch).toBe(8 * 32);
    expect(consumerOptionsSchema.parse({ group: 'g', concurrency: 2, batch: { maxMessages: 16 } }).prefetch).toBe(32);
    expect(consumerOptionsSchema.parse({ group: 'g', prefetch: 3 }).prefetch).toBe(3);
  });

  it('refuses partitions with singleActiveConsumer, and a lease a live instance could lose', () => {
    expect(() =>
      consumerOptionsSchema.parse({ group: 'g', partitions: { count: 4 }, singleActiveConsumer: true }),
    ).toThrow(/exclude each other/);
    expect(() =>
      consumerOptionsSchema.parse({ group: 'g', partitions: { count: 4, rebalanceIntervalMs: 1000, leaseMs: 2000 } }),
    ).toThrow(/at least 3/);
    expect(() =>
      consumerOptionsSchema.parse({ group: 'g', partitions: { count: 4 }, queueType: 'quorum', deliveryLimit: 5 }),
    ).toThrow(/deliveryLimit exclude each other/);
    expect(() => consumerOptionsSchema.parse({ group: 'g', partitions: { count: 0 } })).toThrow();
    expect(() => consumerOptionsSchema.parse({ group: 'g', partitions: { count: 1025 } })).toThrow();
    expect(resolved.partitions).toBeUndefined();
  });

  it('fills the defaults of a partly given nested option', () => {
    const parsed = consumerOptionsSchema.parse({ group: 'g', retry: { maxAttempts: 2 }, batch: {} });
    expect(parsed.retry).toEqual({ maxAttempts: 2, baseDelayMs: 1000, maxDelayMs: 300_000 });
    expect(parsed.batch).toEqual({ maxMessages: 32, maxWaitMs: 0 });
  });
});
