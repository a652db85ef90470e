import { TxboxError } from '@txbox/core';
import { NonRetryableError } from '@txbox/inbox';
import { describe, expect, it } from 'vitest';
import { decide, defaultClassifyError, failurePolicy, retryDelays } from '../src/failure/failure-policy.js';

const defaults = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 300_000 };

describe('failure policy', () => {
  it('maxAttempts counts every delivery, the first included: one delay per retry', () => {
    expect(retryDelays(defaults)).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelays({ ...defaults, maxAttempts: 1 })).toEqual([]);
  });

  it('doubles each delay and caps one step at maxDelayMs', () => {
    expect(retryDelays({ maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 5000 })).toEqual([
      1000, 2000, 4000, 5000, 5000,
    ]);
  });

  it('explicit delaysMs override the exponential ones (and maxAttempts)', () => {
    expect(retryDelays({ ...defaults, maxAttempts: 2, delaysMs: [50, 70, 90] })).toEqual([50, 70, 90]);
  });

  it('retries a retryable failure through the delay step of its attempt', () => {
    const policy = failurePolicy(defaults);
    const error = new Error('downstream is down');
    expect(decide(policy, { error, attempt: 1, source: 'transaction' })).toEqual({
      action: 'retry',
      step: 0,
      delayMs: 1000,
    });
    expect(decide(policy, { error, attempt: 4, source: 'transaction' })).toEqual({
      action: 'retry',
      step: 3,
      delayMs: 8000,
    });
  });

  it('dead-letters once the last delivery allowed by maxAttempts has failed', () => {
    const policy = failurePolicy(defaults);
    expect(decide(policy, { error: new Error('x'), attempt: 5, source: 'transaction' })).toEqual({
      action: 'dead-letter',
      reason: 'retries exhausted',
    });
    expect(
      decide(failurePolicy({ ...defaults, maxAttempts: 1 }), { error: 1, attempt: 1, source: 'transaction' }),
    ).toEqual({ action: 'dead-letter', reason: 'retries exhausted' });
  });

  it('dead-letters at once what the classifier says cannot succeed', () => {
    const policy = failurePolicy(defaults);
    expect(
      decide(policy, { error: new NonRetryableError('card declined'), attempt: 1, source: 'transaction' }),
    ).toEqual({ action: 'dead-letter', reason: 'not retryable' });
  });

  it('an unreachable database is retried whatever the classifier says (not the message’s fault)', () => {
    const classify = () => 'dead-letter' as const;
    const policy = failurePolicy(defaults, classify);
    expect(decide(policy, { error: new Error('ECONNREFUSED'), attempt: 2, source: 'database unavailable' })).toEqual({
      action: 'retry',
      step: 1,
      delayMs: 2000,
    });
    expect(decide(policy, { error: new Error('ECONNREFUSED'), attempt: 5, source: 'database unavailable' })).toEqual({
      action: 'dead-letter',
      reason: 'retries exhausted',
    });
  });

  it('uses a custom classifier for handler failures', () => {
    const policy = failurePolicy(defaults, (error) => (error === 'fatal' ? 'dead-letter' : 'retry'));
    expect(decide(policy, { error: 'fatal', attempt: 1, source: 'transaction' }).action).toBe('dead-letter');
    expect(decide(policy, { error: new NonRetryableError('x'), attempt: 1, source: 'transaction' }).action).toBe(
      'retry',
    );
  });

  it('by default retries anything but a txbox error marked not retryable', () => {
    expect(defaultClassifyError(new Error('boom'))).toBe('retry');
    expect(defaultClassifyError('a string')).toBe('retry');
    expect(defaultClassifyError(new TxboxError('PUBLISH_FAILED', 'x', { retryable: true }))).toBe('retry');
    expect(defaultClassifyError(new TxboxError('PUBLISH_FAILED', 'x'))).toBe('dead-letter');
    expect(defaultClassifyError(new NonRetryableError('x'))).toBe('dead-letter');
  });
});
