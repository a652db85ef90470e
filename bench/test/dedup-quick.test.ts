// The benchmark's dedup-under-replay scenario at its quick size, as a correctness test: every
// unique message applied exactly once and none lost, across replays racing the first delivery
// and a consumer restart, for both consumer designs: the defaults (adaptive batches, up to 32
// deliveries per transaction) and one transaction per delivery. No timing is asserted.
import { describe, expect, it } from 'vitest';
import { testAmqpUrl, testDatabaseUrl } from '../../test-support/index.js';
import { defaults, run } from '../src/scenarios/dedup.mjs';

describe('bench: dedup under replay (quick size)', () => {
  it.each(defaults.quick.designs ?? [1])(
    'batch.maxMessages %i: applies each unique id once and loses none',
    async (batchMessages) => {
      const result = await run({
        settings: { ...defaults.quick, designs: [batchMessages], costSample: 0 },
        databaseUrl: testDatabaseUrl(),
        amqpUrl: testAmqpUrl(),
      });
      expect(result.batchMessages).toBe(batchMessages);
      expect(result.lost).toBe(0);
      expect(result.effects).toBe(result.unique);
      expect(result.distinctEffects).toBe(result.unique);
      expect(result.appliedTwice).toBe(0);
      expect(result.inboxRecords).toBe(result.unique);
      expect(result.deadLettered).toBe(0);
      // Every published copy was delivered at least once; all but the first per id were skipped.
      expect(result.deliveries).toBeGreaterThanOrEqual(result.published);
      expect(result.duplicatesSkipped).toBe(result.deliveries - result.effects);
    },
    180_000,
  );
});
