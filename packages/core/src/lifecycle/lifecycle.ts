import { TxboxError } from '../errors/txbox-error.js';

export type LifecycleState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Makes `start()` and `stop()` of a long-running component idempotent and serialized:
 * concurrent starts share one attempt, a stop during a start waits for it and then stops,
 * and a stopped component stays stopped (it closed what it owned; create a new one).
 * A failed start leaves the component startable again.
 */
export class Lifecycle {
  readonly #name: string;
  #state: LifecycleState = 'new';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(name: string) {
    this.#name = name;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  get isRunning(): boolean {
    return this.#state === 'running';
  }

  /** True once stop() began: loops and reconnects use it to wind down. */
  get isStopping(): boolean {
    return this.#state === 'stopping' || this.#state === 'stopped';
  }

  async start(run: () => Promise<void>): Promise<void> {
    if (this.#state === 'running') return;
    if (this.isStopping) {
      throw new TxboxError('STOPPED', `This ${this.#name} was stopped; create a new one to start again`);
    }
    if (!this.#starting) {
      this.#state = 'starting';
      this.#starting = run().then(
        () => {
          if (this.#state === 'starting') this.#state = 'running';
        },
        (error: unknown) => {
          if (this.#state === 'starting') this.#state = 'new';
          throw error;
        },
      );
      this.#starting
        .finally(() => {
          this.#starting = undefined;
        })
        .catch(() => {});
    }
    return this.#starting;
  }

  async stop(run: () => Promise<void>): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const starting = this.#starting;
    this.#stopping = (async () => {
      if (starting) await starting.catch(() => {});
      this.#state = 'stopping';
      try {
        await run();
      } finally {
        this.#state = 'stopped';
      }
    })();
    return this.#stopping;
  }
}

/** Runs `task` every `intervalMs` (unref'd, so it never keeps a process alive); `0` disables it. */
export function every(intervalMs: number, task: () => Promise<unknown>, onError: (error: unknown) => void): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(() => {
    task().catch(onError);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A promise that resolves after `ms` without keeping the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Waits for `promise` at most `ms`; resolves `true` if it settled in time, `false` otherwise.
 * For shutdown steps that wait on a peer (a broker that stopped answering must not hang stop()).
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
