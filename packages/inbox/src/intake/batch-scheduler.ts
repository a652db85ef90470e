// Adaptive batching with per-key order and bounded parallelism. It knows nothing of messages (items
// and keys only), so it is tested on its own; internal to the package.
//
// Items wait in arrival order. Whenever one of `concurrency` slots is free, it takes every waiting
// item it may run now, up to `maxItems`, as one batch. So batches adapt to the load by themselves:
// when idle, an item finds a free slot and runs alone at once (no added latency); under a backlog,
// items pile up while every slot works and the next free slot takes them together. Nothing waits
// for more items unless `maxWaitMs` asks for it.

export interface BatchSchedulerOptions<T> {
  /** Batches running at once. */
  concurrency: number;
  /** Most items in one batch. */
  maxItems: number;
  /** With fewer than `maxItems` waiting, how long a free slot waits for more (0: never). */
  maxWaitMs: number;
  /** The item's ordering key; null for items that wait for nothing. */
  keyOf(item: T): string | null;
  /** Handles one batch; must handle its own errors (a rejection is swallowed). */
  run(items: T[]): Promise<void>;
}

/**
 * Per-key order: an item may join a batch only if no earlier item of its key is running or
 * still waiting (it may join the same batch as those earlier items that are taken with it, after
 * them: a batch runs its items in order). Different keys, and keyless items, run in parallel.
 */
export class BatchScheduler<T> {
  readonly #o: BatchSchedulerOptions<T>;
  #waiting: T[] = [];
  /** Keys of the running batches (a key is in one running batch at most). */
  readonly #runningKeys = new Set<string>();
  #running = 0;
  #runningItems = 0;
  #timer: NodeJS.Timeout | undefined;
  #idle: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: BatchSchedulerOptions<T>) {
    this.#o = options;
  }

  /** Items running now or waiting for their key or a slot. */
  get size(): number {
    return this.#runningItems + this.#waiting.length;
  }

  submit(item: T): void {
    this.#waiting.push(item);
    const wait = this.#o.maxWaitMs;
    if (wait > 0 && this.#waiting.length < this.#o.maxItems) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, wait);
      return;
    }
    this.#pump();
  }

  /** Resolves when nothing is running or waiting. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    if (!this.#idle) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  #pump(): void {
    while (this.#running < this.#o.concurrency && this.#waiting.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return;
      this.#start(batch);
    }
  }

  /** The first `maxItems` waiting items that no running or skipped earlier item of their key holds back. */
  #take(): T[] {
    const taken: T[] = [];
    const left: T[] = [];
    // A key skipped once stays blocked for the rest of the scan, so a later item never overtakes it.
    const blocked = new Set<string>();
    for (const item of this.#waiting) {
      if (taken.length >= this.#o.maxItems) {
        left.push(item);
        continue;
      }
      const key = this.#o.keyOf(item);
      if (key !== null && (blocked.has(key) || this.#runningKeys.has(key))) {
        blocked.add(key);
        left.push(item);
        continue;
      }
      taken.push(item);
    }
    if (taken.length > 0) this.#waiting = left;
    return taken;
  }

  #start(batch: T[]): void {
    const keys = new Set<string>();
    for (const item of batch) {
      const key = this.#o.keyOf(item);
      if (key !== null) keys.add(key);
    }
    for (const key of keys) this.#runningKeys.add(key);
    this.#running += 1;
    this.#runningItems += batch.length;
    const finish = () => {
      for (const key of keys) this.#runningKeys.delete(key);
      this.#running -= 1;
      this.#runningItems -= batch.length;
      this.#pump();
      if (this.size === 0 && this.#idle) {
        const { resolve } = this.#idle;
        this.#idle = undefined;
        resolve();
      }
    };
    let result: Promise<void>;
    try {
      result = this.#o.run(batch);
    } catch {
      result = Promise.resolve();
    }
    // Batches handle their own errors; a rejection must not leave a slot or a key held.
    result.then(finish, finish);
  }
}
