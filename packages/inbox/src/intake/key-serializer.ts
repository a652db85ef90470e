// Per-key order with bounded parallelism: a prefetch > 1 with parallel handlers would otherwise
// let a later message of a key overtake an earlier one. It knows nothing of messages (tasks and
// keys only), so it is tested on its own; internal to the package.
/**
 * Runs tasks with at most `concurrency` at once, and tasks that share a key one at a time
 * in submission order. Different keys (and keyless tasks) run in parallel.
 *
 * Ordering is decided synchronously at `submit`: each task chains onto the previous task
 * of its key before it waits for a concurrency slot, so a later task of a key can never
 * overtake an earlier one, whatever the slot scheduling does.
 */
export class KeySerializer {
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #tails = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  /**
   * Runs `task` after every earlier task that shares one of its keys (a single key, several
   * keys for a batch, or none).
   */
  submit(key: string | readonly string[] | null, task: () => Promise<void>): Promise<void> {
    const keys = key === null ? [] : typeof key === 'string' ? [key] : key;
    const previous = keys.map((k) => this.#tails.get(k)).filter((p): p is Promise<void> => p !== undefined);
    const run = async () => {
      if (previous.length > 0) await Promise.all(previous);
      await this.#acquire();
      try {
        await task();
      } finally {
        this.#release();
      }
    };
    const done = run().catch(() => {
      // Tasks handle their own errors; a rejection here must not break the key's chain.
    });
    for (const k of keys) {
      this.#tails.set(k, done);
      void done.then(() => {
        if (this.#tails.get(k) === done) this.#tails.delete(k);
      });
    }
    this.#inFlight.add(done);
    void done.then(() => this.#inFlight.delete(done));
    return done;
  }

  /** Resolves when every submitted task has finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#concurrency) {
      this.#running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running -= 1;
  }
}
