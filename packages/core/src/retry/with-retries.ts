import { TxboxError } from '../errors/txbox-error.js';
import { type BackoffOptions, jitteredBackoffMs } from './backoff.js';

export interface WithRetriesOptions extends BackoffOptions {
  /** Retries after the first attempt; `Infinity` keeps trying until `signal` aborts. */
  retries: number;
  /** Aborting ends the wait at once and rejects with a `STOPPED` error. */
  signal?: AbortSignal;
  /** False stops retrying and rethrows the error. @defaultValue every error is retried */
  isRetryable?: (error: unknown) => boolean;
  onFailedAttempt?: (error: unknown, attempt: number) => void;
}

/** Runs `attempt` until it resolves, waiting {@link jitteredBackoffMs} between tries. */
export async function withRetries<T>(attempt: () => Promise<T>, options: WithRetriesOptions): Promise<T> {
  for (let failures = 0; ; ) {
    throwIfAborted(options.signal);
    try {
      return await attempt();
    } catch (error) {
      failures += 1;
      if (failures > options.retries || options.isRetryable?.(error) === false) throw error;
      options.onFailedAttempt?.(error, failures);
      await abortableSleep(jitteredBackoffMs(failures, options), options.signal);
    }
  }
}

const stopped = (signal: AbortSignal | undefined) =>
  new TxboxError('STOPPED', 'Stopped while retrying', { cause: signal?.reason });

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw stopped(signal);
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(stopped(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(stopped(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
