import { jitteredBackoffMs, parseOptions, retryPolicySchema } from '@txbox/core/internal';

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

/** The relay's retry policy: the same shape, meaning and parser as the consumer's `retry` option. */
export interface DefaultRetryStrategyOptions {
  /** Attempts in total, the first included, before a message is dead-lettered. @defaultValue `10` */
  maxAttempts?: number;
  /** Delay before the first retry; doubles at each step. @defaultValue `1000` */
  baseDelayMs?: number;
  /** Cap on one delay. @defaultValue `300000` (5 minutes) */
  maxDelayMs?: number;
}

/** The relay's defaults, written once: used by `defaultRetryStrategy()` and the relay's `retry` option. */
export const relayRetrySchema = retryPolicySchema({ maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 300_000 });

/**
 * Exponential backoff with equal jitter (core's `jitteredBackoffMs`: half of each step fixed,
 * half random) up to `maxAttempts`; non-retryable failures are dead-lettered at once. The
 * jitter spreads the retries of a burst that failed together (a broker outage).
 */
export function defaultRetryStrategy(options: DefaultRetryStrategyOptions = {}): RetryStrategy {
  return backoffRetryStrategy(parseOptions(relayRetrySchema, options, 'defaultRetryStrategy'));
}

/** The default strategy for a policy already parsed (the relay's `retry` option). */
export function backoffRetryStrategy(policy: Required<DefaultRetryStrategyOptions>): RetryStrategy {
  return ({ attempt, retryable }) => {
    if (!retryable || attempt >= policy.maxAttempts) return { retry: false };
    return { retry: true, delayMs: jitteredBackoffMs(attempt, policy) };
  };
}
