// Whether a failed delivery is retried or dead-lettered, and after how long. One pure place for
// the rule (maxAttempts counts every delivery, the first included), so it can be read and tested
// without a broker or a database; settlement carries the decision out.
import { isRetryable } from '@txbox/core';
import { backoffSchedule } from '@txbox/core/internal';

/** Decides whether a handler error is worth another delivery. */
export type ErrorClassifier = (error: unknown) => 'retry' | 'dead-letter';

/** Retry unless the error says it cannot succeed: core's `isRetryable`, as the relay decides. */
export function defaultClassifyError(error: unknown): 'retry' | 'dead-letter' {
  return isRetryable(error) ? 'retry' : 'dead-letter';
}

/** The consumer's resolved `retry` option. */
export interface RetrySettings {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  delaysMs?: number[] | undefined;
}

/** One delay per retry step, in order (each step is a delay queue of the group's topology). */
export function retryDelays(retry: RetrySettings): number[] {
  return retry.delaysMs ?? backoffSchedule(retry.maxAttempts - 1, retry);
}

export interface FailurePolicy {
  readonly delaysMs: readonly number[];
  readonly classify: ErrorClassifier;
}

export function failurePolicy(retry: RetrySettings, classify: ErrorClassifier = defaultClassifyError): FailurePolicy {
  return { delaysMs: retryDelays(retry), classify };
}

/**
 * Where a delivery failed: in its handler's transaction (the handler, or the inbox's own
 * statements), or before it could open one (the database was unreachable: not the message's fault).
 */
export type FailureSource = 'transaction' | 'database unavailable';

export interface DeliveryFailure {
  error: unknown;
  /** The delivery that failed: 1 for the first, 2 after one retry... */
  attempt: number;
  source: FailureSource;
}

export type FailureDecision =
  /** Send it to the delay queue of retry step `step` (0-based), which holds it `delayMs`. */
  | { action: 'retry'; step: number; delayMs: number }
  | { action: 'dead-letter'; reason: 'retries exhausted' | 'not retryable' };

export function decide(policy: FailurePolicy, failure: DeliveryFailure): FailureDecision {
  const retryable = failure.source === 'database unavailable' || policy.classify(failure.error) === 'retry';
  if (!retryable) return { action: 'dead-letter', reason: 'not retryable' };
  const step = failure.attempt - 1;
  const delayMs = policy.delaysMs[step];
  if (delayMs === undefined) return { action: 'dead-letter', reason: 'retries exhausted' };
  return { action: 'retry', step, delayMs };
}
