import { readFileSync } from 'node:fs';
import { ConfigurationError } from '@txbox/core';
import { describe, expect, it } from 'vitest';
import { resolveWalOptions } from '../src/wal/wal-relay-options.js';
import { walSlotNames } from '../src/wal/wal-slot.js';

const required = { database: 'postgres://127.0.0.1/unused', amqp: 'amqp://127.0.0.1' };

/** `option` → the literal its JSDoc `@defaultValue` names in wal-relay-options.ts. */
function documented(): Record<string, string> {
  const source = readFileSync(new URL('../src/wal/wal-relay-options.ts', import.meta.url), 'utf8');
  const found: Record<string, string> = {};
  for (const m of source.matchAll(/@defaultValue `([^`]+)` \*\/\n\s+(\w+)\?:/g)) found[m[2] as string] = m[1] as string;
  return found;
}

describe('WAL relay options', () => {
  it('resolves each omitted option to the value its @defaultValue names', () => {
    const resolved = resolveWalOptions(required);
    expect(documented()).toEqual({ slot: 'txbox_<schema>', standbyRetryMs: '1000', statusIntervalMs: '10000' });
    expect(resolved).toEqual({ slot: undefined, standbyRetryMs: 1000, statusIntervalMs: 10_000 });
    expect(walSlotNames({ schema: 'Orders' })).toEqual({ slot: 'txbox_orders', publication: 'txbox_orders' });
  });

  it('refuses listen (a WAL relay reads its slot) and a slot name PostgreSQL would refuse, naming the option', () => {
    expect(() => resolveWalOptions({ ...required, listen: true } as never)).toThrow(/relay\.listen/);
    expect(() => walSlotNames({ slot: 'Bad-Name' })).toThrow(ConfigurationError);
    expect(() => resolveWalOptions({ ...required, standbyRetryMs: 1 })).toThrow(/relay\.standbyRetryMs/);
  });
});
