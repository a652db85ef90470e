import { TxboxError } from '@txbox/core';
import { defaultRetryStrategy, type PublishFailure, type RetryStrategy } from '@txbox/outbox';
import { describe, expect, it } from 'vitest';
import type { PublishOutcome } from '../src/relay/confirm-publisher.js';
import { planSettlement, type SettlementInput, type SettlementRow } from '../src/relay/settlement-plan.js';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function row(seq: number, overrides: Partial<SettlementRow> = {}): SettlementRow {
  return {
    seq: String(seq),
    id: `00000000-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    type: 'orders.placed',
    exchange: 'txbox.events',
    routing_key: 'orders.placed',
    attempts: 0,
    ...overrides,
  };
}

// The outcomes the confirm publisher reports, one per way a publish can end.
const confirmed: PublishOutcome = { status: 'confirmed' };
const unroutable: PublishOutcome = { status: 'unroutable' };
const failed = (code: 'PUBLISH_FAILED' | 'PUBLISH_TIMEOUT' | 'STOPPED', message: string, retryable: boolean) =>
  ({ status: 'failed', error: new TxboxError(code, message, { retryable }) }) as const;
const nacked = failed('PUBLISH_FAILED', 'RabbitMQ nacked the message', true);
const timedOut = failed('PUBLISH_TIMEOUT', 'No broker confirm within 10000 ms', true);
const channelClosed = failed('PUBLISH_FAILED', 'The channel closed before the broker confirmed', true);
const noChannel = failed('PUBLISH_FAILED', 'Cannot open a channel to publish: ECONNREFUSED', true);
const stopped = failed('STOPPED', 'The relay stopped before the broker confirmed', true);
const encodeFailure = failed('PUBLISH_FAILED', 'Publish failed: Offset is outside the bounds of the DataView', false);

/** Retries every retryable failure after 1000 ms × attempt, and records what it was asked. */
function recordingStrategy(): RetryStrategy & { calls: PublishFailure[] } {
  const calls: PublishFailure[] = [];
  const strategy: RetryStrategy = (failure) => {
    calls.push(failure);
    return failure.retryable ? { retry: true, delayMs: 1000 * failure.attempt } : { retry: false };
  };
  return Object.assign(strategy, { calls });
}

function plan(rows: SettlementRow[], outcomes: PublishOutcome[], overrides: Partial<SettlementInput> = {}) {
  return planSettlement({
    rows,
    outcomes,
    onUnroutable: 'retry',
    retryStrategy: recordingStrategy(),
    relayId: 'relay-a',
    now: NOW,
    ...overrides,
  });
}

describe('settlement plan: confirmed messages', () => {
  it('marks every confirmed message published, in batch order, and writes nothing else', () => {
    const result = plan([row(1), row(2), row(3)], [confirmed, confirmed, confirmed]);
    expect(result).toEqual({ published: ['1', '2', '3'], retries: [], deadLetters: [], unroutable: 0 });
  });

  it('plans nothing for an empty batch', () => {
    expect(plan([], [])).toEqual({ published: [], retries: [], deadLetters: [], unroutable: 0 });
  });

  it('refuses outcomes that do not match the rows one to one', () => {
    expect(() => plan([row(1), row(2)], [confirmed])).toThrow(/1 outcomes for 2 rows/);
  });
});

describe('settlement plan: retryable failures are retried with the error and an attempt entry', () => {
  it.each([
    ['a nack', nacked],
    ['a confirm timeout', timedOut],
    ['a channel closed before the confirm', channelClosed],
    ['no channel to publish on', noChannel],
    ['a stop before the confirm', stopped],
  ])('%s schedules a retry after the strategy’s delay', (_label, outcome) => {
    const result = plan([row(7, { attempts: 2 })], [outcome]);
    expect(result.published).toEqual([]);
    expect(result.deadLetters).toEqual([]);
    expect(result.retries).toEqual([
      {
        seq: '7',
        delay_ms: 3000,
        error: outcome.error.message,
        entry: {
          at: NOW.toISOString(),
          attempt: 3,
          relayId: 'relay-a',
          code: outcome.error.code,
          error: outcome.error.message,
        },
      },
    ]);
  });

  it('asks the strategy with the attempt number (attempts so far + 1), the error, its retryability and the type', () => {
    const strategy = recordingStrategy();
    plan([row(1, { attempts: 4, type: 'orders.cancelled' })], [nacked], { retryStrategy: strategy });
    expect(strategy.calls).toEqual([{ attempt: 5, error: nacked.error, retryable: true, type: 'orders.cancelled' }]);
  });

  it('rounds the delay to whole milliseconds and never schedules into the past', () => {
    const delays = [1234.6, -50];
    const strategy: RetryStrategy = () => ({ retry: true, delayMs: delays.shift() as number });
    const result = plan([row(1), row(2)], [nacked, nacked], { retryStrategy: strategy });
    expect(result.retries.map((r) => r.delay_ms)).toEqual([1235, 0]);
  });

  it('with the default strategy, retries within the first backoff step', () => {
    const result = plan([row(1)], [timedOut], { retryStrategy: defaultRetryStrategy({ baseDelayMs: 1000 }) });
    const delay = result.retries[0]?.delay_ms ?? -1;
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1000);
  });

  it('stamps every attempt entry of a batch with the same instant and this relay’s id', () => {
    const result = plan([row(1), row(2)], [nacked, timedOut], { relayId: 'relay-b' });
    expect(result.retries.map((r) => [r.entry.at, r.entry.relayId])).toEqual([
      [NOW.toISOString(), 'relay-b'],
      [NOW.toISOString(), 'relay-b'],
    ]);
  });
});

describe('settlement plan: dead letters carry a reason and the last attempt', () => {
  it('dead-letters a message amqplib cannot encode at once, as not retryable', () => {
    const strategy = recordingStrategy();
    const result = plan([row(3, { id: 'id-3', type: 'orders.big' })], [encodeFailure], { retryStrategy: strategy });
    expect(strategy.calls.map((c) => c.retryable)).toEqual([false]);
    expect(result.retries).toEqual([]);
    expect(result.deadLetters).toEqual([
      {
        seq: '3',
        error: encodeFailure.error.message,
        entry: {
          at: NOW.toISOString(),
          attempt: 1,
          relayId: 'relay-a',
          code: 'PUBLISH_FAILED',
          error: encodeFailure.error.message,
        },
        reason: 'not retryable',
        id: 'id-3',
        type: 'orders.big',
      },
    ]);
  });

  it('dead-letters a retryable failure once the strategy gives up, as retries exhausted', () => {
    const strategy = defaultRetryStrategy({ maxAttempts: 3 });
    const result = plan([row(1, { attempts: 1 }), row(2, { attempts: 2 })], [nacked, nacked], {
      retryStrategy: strategy,
    });
    expect(result.retries.map((r) => [r.seq, r.entry.attempt])).toEqual([['1', 2]]);
    expect(result.deadLetters.map((d) => [d.seq, d.reason, d.entry.attempt])).toEqual([['2', 'retries exhausted', 3]]);
  });

  it('lets the strategy decide: a retry it refuses is exhausted, a non-retryable one it accepts is retried', () => {
    const never: RetryStrategy = () => ({ retry: false });
    expect(plan([row(1)], [nacked], { retryStrategy: never }).deadLetters[0]?.reason).toBe('retries exhausted');
    const always: RetryStrategy = () => ({ retry: true, delayMs: 10 });
    const result = plan([row(1)], [encodeFailure], { retryStrategy: always });
    expect(result.deadLetters).toEqual([]);
    expect(result.retries.map((r) => r.seq)).toEqual(['1']);
  });
});

describe('settlement plan: the unroutable policy', () => {
  const returned = row(5, { exchange: 'ex.orders', routing_key: 'orders.nobody' });
  const message = 'No queue is bound to exchange "ex.orders" for routing key "orders.nobody"';

  it("'retry' retries it as a retryable PUBLISH_UNROUTABLE failure and counts it", () => {
    const strategy = recordingStrategy();
    const result = plan([returned], [unroutable], { onUnroutable: 'retry', retryStrategy: strategy });
    expect(result.unroutable).toBe(1);
    expect(strategy.calls[0]).toMatchObject({ retryable: true, error: { code: 'PUBLISH_UNROUTABLE', message } });
    expect(result.retries).toEqual([
      expect.objectContaining({
        seq: '5',
        error: message,
        entry: expect.objectContaining({ code: 'PUBLISH_UNROUTABLE' }),
      }),
    ]);
  });

  it("'retry' dead-letters it as retries exhausted once the budget is spent", () => {
    const result = plan([{ ...returned, attempts: 9 }], [unroutable], {
      onUnroutable: 'retry',
      retryStrategy: defaultRetryStrategy({ maxAttempts: 10 }),
    });
    expect(result.deadLetters.map((d) => [d.reason, d.error])).toEqual([['retries exhausted', message]]);
    expect(result.unroutable).toBe(1);
  });

  it("'dead-letter' dead-letters it at once, as unroutable", () => {
    const result = plan([returned], [unroutable], {
      onUnroutable: 'dead-letter',
      retryStrategy: defaultRetryStrategy(),
    });
    expect(result.retries).toEqual([]);
    expect(result.deadLetters.map((d) => [d.seq, d.reason, d.entry.code])).toEqual([
      ['5', 'unroutable', 'PUBLISH_UNROUTABLE'],
    ]);
    expect(result.unroutable).toBe(1);
  });

  it("'discard' counts it as published, without asking the strategy", () => {
    const strategy = recordingStrategy();
    const result = plan([returned, row(6)], [unroutable, confirmed], {
      onUnroutable: 'discard',
      retryStrategy: strategy,
    });
    expect(result).toEqual({ published: ['5', '6'], retries: [], deadLetters: [], unroutable: 1 });
    expect(strategy.calls).toEqual([]);
  });
});

describe('settlement plan: per-key order is the claim’s job, each row settles on its own outcome', () => {
  it('a later message of a key whose head failed is still marked published once confirmed (it reached the broker)', () => {
    const head = row(1, { attempts: 0 });
    const next = row(2);
    const result = plan([head, next], [nacked, confirmed]);
    expect(result.published).toEqual(['2']);
    expect(result.retries.map((r) => r.seq)).toEqual(['1']);
  });

  it('every failed message of a key is retried with its own attempt count and delay, none is skipped', () => {
    const result = plan([row(1, { attempts: 2 }), row(2, { attempts: 0 }), row(3)], [timedOut, timedOut, confirmed]);
    expect(result.retries.map((r) => [r.seq, r.entry.attempt, r.delay_ms])).toEqual([
      ['1', 3, 3000],
      ['2', 1, 1000],
    ]);
    expect(result.published).toEqual(['3']);
  });

  it('a dead-lettered head does not hold back the rest of its key', () => {
    const result = plan([row(1), row(2), row(3)], [encodeFailure, confirmed, nacked]);
    expect(result.deadLetters.map((d) => d.seq)).toEqual(['1']);
    expect(result.published).toEqual(['2']);
    expect(result.retries.map((r) => r.seq)).toEqual(['3']);
  });

  it('keeps batch (seq) order within each kind of write across a mixed batch', () => {
    const outcomes = [confirmed, nacked, encodeFailure, confirmed, timedOut, unroutable, confirmed];
    const result = plan(
      outcomes.map((_, i) => row(i + 10)),
      outcomes,
      { onUnroutable: 'dead-letter' },
    );
    expect(result.published).toEqual(['10', '13', '16']);
    expect(result.retries.map((r) => r.seq)).toEqual(['11', '14']);
    expect(result.deadLetters.map((d) => [d.seq, d.reason])).toEqual([
      ['12', 'not retryable'],
      ['15', 'unroutable'],
    ]);
    expect(result.unroutable).toBe(1);
  });
});
