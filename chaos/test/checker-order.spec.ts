// The chaos checker's per-key order rules, on hand-made data: what a partitioned group must never
// show (a reordering no failed attempt explains, a key in flight twice at once) fails the run,
// while the same reordering with competing consumers is only reported.
import { describe, expect, it } from 'vitest';
import { check } from '../lib/checker.mjs';

type Effect = Parameters<typeof check>[0]['effects'][number];

const KEY = 'k1';
const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];

/** Two keyed messages, #1 then #2, applied by `effects` (in applied_seq order); nothing else happened. */
function run(group: { instances: number; partitions: { count: number } | null }, effects: Effect[]) {
  const g = { name: 'g', label: 'A', ...group };
  return check({
    groups: [g],
    ledger: ids.map((id, i) => ({ id, kind: 'event', key: KEY, key_seq: i + 1, expect: 'apply' })),
    rolledBack: new Set(),
    effects,
    failedAttempts: new Map([['g', new Set<string>()]]),
    deadLetters: new Map([['g', []]]),
    rawExpected: [],
    tap: ids.map((id) => ({ id, key: KEY, redelivered: false })),
    outbox: { pending: 0, due: 0, deadLetters: [] },
    leftovers: [],
    crashes: [],
    boundary: [],
  });
}

/** The effect row of message #seq, applied as the `applied_seq`-th row, having seen `prevMax` committed. */
const effect = (seq: number, appliedSeq: number, prevMax: number | null, instance = 'a1'): Effect => ({
  grp: 'g',
  message_id: ids[seq - 1] as string,
  key: KEY,
  key_seq: seq,
  prev_max: prevMax,
  instance,
  attempt: 1,
  applied_seq: appliedSeq,
});

const partitioned = { instances: 3, partitions: { count: 6 } };
const competing = { instances: 2, partitions: null };

describe('chaos checker: per-key order', () => {
  it('passes a key applied in order, one message after the other', () => {
    const result = run(partitioned, [effect(1, 1, null), effect(2, 2, 1)]);
    expect(result.violations).toEqual([]);
    expect(result.report.groups.A?.outOfOrder).toEqual({
      afterFailedAttempt: 0,
      competingConsumers: 0,
      unexplained: 0,
      overlapping: 0,
    });
  });

  it('fails a partitioned group that applied #2 before #1 without a failed attempt', () => {
    const result = run(partitioned, [effect(2, 1, null, 'a2'), effect(1, 2, 2, 'a1')]);
    expect(result.report.groups.A?.outOfOrder.competingConsumers).toBe(1);
    expect(result.violations.join('\n')).toMatch(/sharing 6 partitions \(must be 0/);
  });

  it('only reports the same reordering with competing consumers on one queue', () => {
    const result = run(competing, [effect(2, 1, null, 'a2'), effect(1, 2, 2, 'a1')]);
    expect(result.report.groups.A?.outOfOrder.competingConsumers).toBe(1);
    expect(result.violations).toEqual([]);
    expect(result.findings.join('\n')).toMatch(/2 competing instances/);
  });

  it('fails a partitioned group whose #2 ran while #1 was uncommitted (in order, yet it did not see #1)', () => {
    const result = run(partitioned, [effect(1, 1, null, 'a1'), effect(2, 2, null, 'a2')]);
    expect(result.report.groups.A?.outOfOrder.overlapping).toBe(1);
    expect(result.violations.join('\n')).toMatch(/handled while an earlier message of their key was still in flight/);
  });

  it('fails one instance on a plain queue that overlaps a key, and only reports it for competing consumers', () => {
    const overlap = [effect(1, 1, null), effect(2, 2, null)];
    expect(run({ instances: 1, partitions: null }, overlap).violations).toHaveLength(1);
    const reported = run(competing, overlap);
    expect(reported.violations).toEqual([]);
    expect(reported.findings.join('\n')).toMatch(/still in flight \(competing instances\)/);
  });
});
