import { describe, expect, it } from 'vitest';
import { BatchScheduler } from '../src/intake/batch-scheduler.js';

interface Item {
  key: string | null;
  n: number;
}

/** A scheduler whose batches finish only when the test says so. */
function harness(options: { concurrency: number; maxItems: number; maxWaitMs?: number }) {
  const batches: { items: Item[]; finish: () => void }[] = [];
  const scheduler = new BatchScheduler<Item>({
    concurrency: options.concurrency,
    maxItems: options.maxItems,
    maxWaitMs: options.maxWaitMs ?? 0,
    keyOf: (item) => item.key,
    run: (items) =>
      new Promise<void>((resolve) => {
        batches.push({ items, finish: resolve });
      }),
  });
  const flush = () => new Promise((r) => setImmediate(r));
  const ns = (i: number) => batches[i]?.items.map((x) => x.n);
  return { scheduler, batches, flush, ns };
}

describe('BatchScheduler: adaptive batches, per-key order, bounded parallelism', () => {
  it('runs an item alone at once when a slot is free (no waiting for more)', () => {
    const { scheduler, ns } = harness({ concurrency: 2, maxItems: 32 });
    scheduler.submit({ key: 'a', n: 1 });
    expect(ns(0)).toEqual([1]);
  });

  it('groups what waited while every slot was busy into the next batch, up to maxItems', async () => {
    const { scheduler, batches, flush, ns } = harness({ concurrency: 1, maxItems: 3 });
    scheduler.submit({ key: null, n: 1 });
    for (let n = 2; n <= 6; n++) scheduler.submit({ key: null, n });
    expect(batches).toHaveLength(1);
    batches[0]?.finish();
    await flush();
    expect(ns(1)).toEqual([2, 3, 4]);
    batches[1]?.finish();
    await flush();
    expect(ns(2)).toEqual([5, 6]);
  });

  it('never lets an item overtake an earlier item of its key, running or waiting', async () => {
    const { scheduler, batches, flush, ns } = harness({ concurrency: 2, maxItems: 10 });
    scheduler.submit({ key: 'a', n: 1 }); // runs in slot 1
    scheduler.submit({ key: 'b', n: 2 }); // runs in slot 2
    scheduler.submit({ key: 'a', n: 3 }); // waits: a is running
    scheduler.submit({ key: 'c', n: 4 });
    scheduler.submit({ key: 'a', n: 5 });
    expect(batches.map((b) => b.items.map((x) => x.n))).toEqual([[1], [2]]);
    batches[1]?.finish(); // b done; a still running: c may go, a's items may not
    await flush();
    expect(ns(2)).toEqual([4]);
    batches[0]?.finish(); // a done: a's waiting items go together, in order
    await flush();
    expect(ns(3)).toEqual([3, 5]);
  });

  it('keeps a key blocked for the rest of the scan once one of its items is held back', async () => {
    const { scheduler, batches, flush, ns } = harness({ concurrency: 2, maxItems: 2 });
    scheduler.submit({ key: 'x', n: 0 }); // slot 1
    scheduler.submit({ key: 'y', n: 1 }); // slot 2
    scheduler.submit({ key: 'a', n: 2 });
    scheduler.submit({ key: 'b', n: 3 });
    scheduler.submit({ key: 'a', n: 4 }); // cut by maxItems from the next batch
    scheduler.submit({ key: 'c', n: 5 });
    batches[0]?.finish();
    await flush();
    expect(ns(2)).toEqual([2, 3]);
    batches[1]?.finish();
    await flush();
    // a (n 2) still runs: its later item waits, c goes.
    expect(ns(3)).toEqual([5]);
    batches[2]?.finish();
    await flush();
    expect(ns(4)).toEqual([4]);
  });

  it('runs keyless items in parallel with everything, up to the concurrency', async () => {
    const { scheduler, batches } = harness({ concurrency: 3, maxItems: 1 });
    for (let n = 1; n <= 5; n++) scheduler.submit({ key: null, n });
    expect(batches).toHaveLength(3);
    expect(scheduler.size).toBe(5);
  });

  it('with maxWaitMs, waits that long for a batch to fill, and no longer once it is full', async () => {
    const { scheduler, batches } = harness({ concurrency: 1, maxItems: 3, maxWaitMs: 20 });
    scheduler.submit({ key: null, n: 1 });
    expect(batches).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(batches.map((b) => b.items.length)).toEqual([1]);
    batches[0]?.finish();
    await new Promise((r) => setImmediate(r));
    for (let n = 2; n <= 4; n++) scheduler.submit({ key: null, n });
    expect(batches.map((b) => b.items.length)).toEqual([1, 3]);
  });

  it('idle() resolves once nothing runs or waits, and a failing batch frees its slot and keys', async () => {
    let calls = 0;
    const scheduler = new BatchScheduler<Item>({
      concurrency: 1,
      maxItems: 1,
      maxWaitMs: 0,
      keyOf: (item) => item.key,
      run: async () => {
        calls += 1;
        throw new Error('boom');
      },
    });
    scheduler.submit({ key: 'a', n: 1 });
    scheduler.submit({ key: 'a', n: 2 });
    await scheduler.idle();
    expect(calls).toBe(2);
    expect(scheduler.size).toBe(0);
  });
});
