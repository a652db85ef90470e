/** What the relay knows when a publish attempt fails. */
export interface PublishFailure {
  /** Failed attempts so far, including this one (1 on the first failure). */
  attempt: number;
  error: Error;
  /** False for failures that cannot succeed on retry (e.g. unroutable under 'dead-letter'). */
  retryable: boolean;
  type: string;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

/** Decides whether, and when, a failed publish is tried again. */
export type RetryStrategy = (failure: PublishFailure) => RetryDecision;

export interface DefaultRetryStrategyOptions {
  /** Failed attempts before a message is dead-lettered. @defaultValue `10` */
  maxAttempts?: number;
  /** Delay before the first retry. @defaultValue `1000` */
  baseDelayMs?: number;
  /** Cap on any single delay. @defaultValue `300000` (5 minutes) */
  maxDelayMs?: number;
}

/**
 * Exponential backoff with "equal jitter" (delay = step/2 + random(0, step/2), where
 * step = min(max, base * 2^(attempt-1))) up to `maxAttempts`; non-retryable failures are
 * dead-lettered at once. The jitter spreads retries of a burst that failed together (a
 * broker outage) over the window, while keeping at least half of each step.
 */
export function defaultRetryStrategy(options: DefaultRetryStrategyOptions = {}): RetryStrategy {
  const maxAttempts = options.maxAttempts ?? 10;
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 300_000;
  return ({ attempt, retryable }) => {
    if (!retryable || attempt >= maxAttempts) return { retry: false };
    const ceiling = Math.min(max, base * 2 ** (attempt - 1));
    return { retry: true, delayMs: Math.round(ceiling / 2 + (Math.random() * ceiling) / 2) };
  };
}
