import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { silentLogger } from '@txbox/core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { resolveRelayOptions } from '../src/relay/relay-options.js';

const required = { database: 'postgres://127.0.0.1/unused', amqp: 'amqp://127.0.0.1' };
const sourcePath = new URL('../src/relay/relay-options.ts', import.meta.url);

/** `option` (or `parent.child`) → the literal its JSDoc `@defaultValue` names, as written. */
function documentedDefaults(): Map<string, string> {
  const source = ts.createSourceFile(
    'relay-options.ts',
    readFileSync(sourcePath, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const found = new Map<string, string>();
  const walk = (members: ts.NodeArray<ts.TypeElement>, prefix: string) => {
    for (const member of members) {
      if (!ts.isPropertySignature(member)) continue;
      const name = `${prefix}${member.name.getText()}`;
      if (member.type && ts.isTypeLiteralNode(member.type)) walk(member.type.members, `${name}.`);
      const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'defaultValue');
      const literal = /^`([^`]+)`/.exec((tag && ts.getTextOfJSDocComment(tag.comment)) ?? '')?.[1];
      if (literal !== undefined) found.set(name, literal);
    }
  };
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === 'OutboxRelayOptions') walk(node.members, '');
  });
  return found;
}

function valueAt(object: object, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], object);
}

describe('relay options: the schema is the one source of each default', () => {
  const resolved = resolveRelayOptions(required);
  const documented = documentedDefaults();

  it('documents, with a literal, the default of every option the schema fills in', () => {
    const filled = Object.entries(resolved).flatMap(([key, value]) =>
      key === 'retention' || key === 'retry' ? Object.keys(value as object).map((child) => `${key}.${child}`) : [key],
    );
    // The logger's default (silence) has no literal to name.
    expect([...documented.keys()].sort()).toEqual(filled.filter((key) => key !== 'logger').sort());
  });

  it('resolves each omitted option to exactly the value its @defaultValue names', () => {
    for (const [option, literal] of documented) {
      const value = valueAt(resolved, option);
      if (option === 'relayId') {
        expect(literal).toBe('<hostname>:<pid>:<random>');
        expect(value).toMatch(
          new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}:[0-9a-f]{6}$`),
        );
      } else if (option === 'retryStrategy') {
        expect(literal).toBe('defaultRetryStrategy(retry)');
        expect(value).toBeTypeOf('function');
      } else {
        const expected = literal.startsWith("'") ? literal.slice(1, -1) : JSON.parse(literal);
        expect({ option, value }).toEqual({ option, value: expected });
      }
    }
  });

  it('applies the other retention defaults when only some retention options are given', () => {
    expect(resolveRelayOptions({ ...required, retention: { intervalMs: 0 } }).retention).toEqual({
      ...resolved.retention,
      intervalMs: 0,
    });
  });

  it("takes the retry policy in the consumer's shape, and refuses it next to a custom retryStrategy", () => {
    expect(resolveRelayOptions({ ...required, retry: { maxAttempts: 3 } }).retry).toEqual({
      maxAttempts: 3,
      baseDelayMs: 1000,
      maxDelayMs: 300_000,
    });
    const strategy = resolveRelayOptions({ ...required, retry: { maxAttempts: 2 } }).retryStrategy;
    expect(strategy({ attempt: 1, retryable: true, error: new Error('nack'), type: 't' })).toMatchObject({
      retry: true,
    });
    expect(strategy({ attempt: 2, retryable: true, error: new Error('nack'), type: 't' })).toEqual({ retry: false });
    expect(() =>
      resolveRelayOptions({ ...required, retry: { maxAttempts: 2 }, retryStrategy: () => ({ retry: false }) }),
    ).toThrow(/give retry or retryStrategy, not both/);
    expect(() => resolveRelayOptions({ ...required, retry: { maxAttempts: 0 } })).toThrow(/relay\.retry\.maxAttempts/);
  });

  it('gives each relay its own id, and keeps one that is given', () => {
    expect(resolveRelayOptions(required).relayId).not.toBe(resolved.relayId);
    expect(resolveRelayOptions({ ...required, relayId: 'relay-a' }).relayId).toBe('relay-a');
  });

  it('treats a null logger or retry strategy as omitted, and keeps the ones given', () => {
    const nulls = resolveRelayOptions({ ...required, logger: null, retryStrategy: null } as never);
    expect(nulls.logger).toBe(silentLogger);
    expect(nulls.retryStrategy).toBeTypeOf('function');
    const strategy = () => ({ retry: false as const });
    const logger = { ...silentLogger };
    const given = resolveRelayOptions({ ...required, logger, retryStrategy: strategy });
    expect(given.retryStrategy).toBe(strategy);
    expect(given.logger).toBe(logger);
  });

  it('refuses what the relay cannot run with, naming the option', () => {
    expect(() => resolveRelayOptions(undefined as never)).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_INVALID', option: 'relay' }),
    );
    expect(() => resolveRelayOptions({ ...required, retryStrategy: 'fast' as never })).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_INVALID', option: 'relay.retryStrategy' }),
    );
    expect(() => resolveRelayOptions({ ...required, leaseMs: 2000, publishTimeoutMs: 2000 })).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_INVALID', option: 'relay.publishTimeoutMs' }),
    );
    expect(() => resolveRelayOptions({ ...required, retention: { batchSize: 0 } })).toThrow(
      expect.objectContaining({ option: 'relay.retention.batchSize' }),
    );
  });
});
