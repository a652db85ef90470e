import { isRetryable, NonRetryableError, TxboxError } from '@txbox/core';
import { backoffDelayMs, backoffSchedule, jitteredBackoffMs, withRetries } from '@txbox/core/internal';
import { describe, expect, it } from 'vitest';

const options = { baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelayMs: the one backoff formula', () => {
  it('doubles from the base delay and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, options))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays at the cap however many retries came before (no overflow to Infinity or NaN)', () => {
    expect(backoffDelayMs(10_000, options)).toBe(1000);
    expect(backoffDelayMs(0, options)).toBe(100);
  });

  it('gives the delay-queue schedule without jitter', () => {
    expect(backoffSchedule(4, { baseDelayMs: 1000, maxDelayMs: 5000 })).toEqual([1000, 2000, 4000, 5000]);
    expect(backoffSchedule(0, options)).toEqual([]);
  });

  it('keeps at least half of each step under jitter and never exceeds it', () => {
    expect(jitteredBackoffMs(3, options, () => 0)).toBe(200);
    expect(jitteredBackoffMs(3, options, () => 1)).toBe(400);
    expect(jitteredBackoffMs(3, options, () => 0.5)).toBe(300);
  });
});

describe('withRetries', () => {
  const fast = { baseDelayMs: 1, maxDelayMs: 2 };

  it('retries a failing attempt until it succeeds, reporting each failure', async () => {
    let calls = 0;
    const failures: number[] = [];
    const result = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`boom ${calls}`);
        return 'done';
      },
      { ...fast, retries: 5, onFailedAttempt: (_error, attempt) => failures.push(attempt) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(failures).toEqual([1, 2]);
  });

  it('gives up after the given number of retries with the last error', async () => {
    let calls = 0;
    const failing = withRetries(
      async () => {
        calls += 1;
        throw new Error(`boom ${calls}`);
      },
      { ...fast, retries: 2 },
    );
    await expect(failing).rejects.toThrow('boom 3');
    expect(calls).toBe(3);
  });

  it('does not retry an error classified as not retryable', async () => {
    let calls = 0;
    const failing = withRetries(
      async () => {
        calls += 1;
        throw new NonRetryableError('bad input');
      },
      { ...fast, retries: 5, isRetryable },
    );
    await expect(failing).rejects.toBeInstanceOf(NonRetryableError);
    expect(calls).toBe(1);
  });

  it('ends a wait at once when its signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const waiting = withRetries(
      async () => {
        calls += 1;
        if (calls === 1) setImmediate(() => controller.abort());
        throw new Error('down');
      },
      { retries: Number.POSITIVE_INFINITY, baseDelayMs: 3_600_000, maxDelayMs: 3_600_000, signal: controller.signal },
    );
    await expect(waiting).rejects.toMatchObject({ code: 'STOPPED' });
    expect(calls).toBe(1);
  });
});

describe('isRetryable: one classification for relay and consumer', () => {
  it.each([
    ['a plain error', new Error('timeout'), true],
    ['a retryable txbox error', new TxboxError('CONNECTION_FAILED', 'down', { retryable: true }), true],
    ['NonRetryableError', new NonRetryableError('bad'), false],
    ['a txbox error not marked retryable', new TxboxError('PAYLOAD_INVALID', 'bad'), false],
    ['a thrown string', 'oops', true],
  ])('%s → %s', (_what, error, retryable) => {
    expect(isRetryable(error)).toBe(retryable);
  });

  it('keeps the cause of a NonRetryableError', () => {
    const cause = new Error('constraint violated');
    const error = new NonRetryableError('order cannot be billed', { cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe('HANDLER_FAILED');
    expect(error.retryable).toBe(false);
  });
});
