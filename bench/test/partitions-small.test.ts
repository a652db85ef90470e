// The benchmark's partitions scenario at a small size, as a correctness test: every backlog is
// applied exactly once by each design (partitioned instances and the single-active-consumer
// group), and of the single-active pair one instance does all the work. No timing is asserted
// (how soon the partitions are shared out depends on the machine: a small backlog may drain first).
import { describe, expect, it } from 'vitest';
import { testAmqpUrl, testDatabaseUrl } from '../../test-support/index.js';
import { defaults, run } from '../src/scenarios/partitions.mjs';

describe('bench: partitions (small size)', () => {
  it('drains each backlog exactly once, partitioned and single-active', async () => {
    const result = await run({
      settings: { ...defaults.quick, messages: 600, keys: 50, instances: [1, 2], repeats: 1 },
      databaseUrl: testDatabaseUrl(),
      amqpUrl: testAmqpUrl(),
    });
    expect(result.effects).toBe(result.expectedEffects);
    expect(result.distinctEffects).toBe(result.expectedEffects);
    expect(result.partitioned.map((p) => p.instances)).toEqual([1, 2]);
    for (const p of result.partitioned) {
      expect(p.perInstance.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(result.messages);
    }
    expect(result.singleActive.perInstance.filter((c) => c > 0)).toHaveLength(1);
  }, 180_000);
});
