import { REPUBLISH_HEADERS } from '@txbox/core';
import { attemptOf, deadLetterHeaders, retryHeaders } from '@txbox/core/internal';
import { describe, expect, it } from 'vitest';

function delivered(headers: Record<string, unknown> = {}, fields = { exchange: 'txbox.events', routingKey: 'a.b' }) {
  return { fields, properties: { headers } };
}

describe('republish headers', () => {
  it('reads the attempt a message carries, 1 when absent or garbled', () => {
    expect(attemptOf(delivered())).toBe(1);
    expect(attemptOf(delivered({ [REPUBLISH_HEADERS.attempt]: 3 }))).toBe(3);
    expect(attemptOf(delivered({ [REPUBLISH_HEADERS.attempt]: '2' }))).toBe(2);
    expect(attemptOf(delivered({ [REPUBLISH_HEADERS.attempt]: 'x' }))).toBe(1);
    expect(attemptOf(delivered({ [REPUBLISH_HEADERS.attempt]: 0 }))).toBe(1);
    expect(attemptOf({ properties: {} })).toBe(1);
  });

  it('a retried copy is the next attempt, with the failed one in its history and its origin kept', () => {
    const headers = retryHeaders(delivered({ user: 'kept', 'x-death': [{}] }), 1, new Error('boom'));
    expect(headers[REPUBLISH_HEADERS.attempt]).toBe(2);
    expect(headers.user).toBe('kept');
    expect(headers['x-death']).toBeUndefined();
    expect(headers[REPUBLISH_HEADERS.originalExchange]).toBe('txbox.events');
    expect(headers[REPUBLISH_HEADERS.originalRoutingKey]).toBe('a.b');
    const history = JSON.parse(String(headers[REPUBLISH_HEADERS.history]));
    expect(history).toEqual([{ attempt: 1, at: expect.any(String), error: 'boom' }]);
  });

  it('after a pass through a delay queue, the history grows and the first origin stays', () => {
    const first = retryHeaders(delivered(), 1, new Error('one'));
    const again = retryHeaders(delivered(first, { exchange: '', routingKey: 'group.retry.1000ms' }), 2, 'two');
    expect(again[REPUBLISH_HEADERS.attempt]).toBe(3);
    expect(again[REPUBLISH_HEADERS.originalExchange]).toBe('txbox.events');
    expect(again[REPUBLISH_HEADERS.originalRoutingKey]).toBe('a.b');
    const history = JSON.parse(String(again[REPUBLISH_HEADERS.history]));
    expect(history.map((h: { error: string }) => h.error)).toEqual(['one', 'two']);
  });

  it('a dead-lettered copy says why, which group, and keeps its attempt', () => {
    const headers = deadLetterHeaders(delivered({ [REPUBLISH_HEADERS.history]: 'not json' }), {
      attempt: 5,
      reason: 'retries exhausted',
      error: new Error('x'.repeat(5000)),
      group: 'billing',
    });
    expect(headers[REPUBLISH_HEADERS.attempt]).toBe(5);
    expect(headers[REPUBLISH_HEADERS.reason]).toBe('retries exhausted');
    expect(headers[REPUBLISH_HEADERS.group]).toBe('billing');
    expect(String(headers[REPUBLISH_HEADERS.error])).toHaveLength(4000);
    const history = JSON.parse(String(headers[REPUBLISH_HEADERS.history]));
    expect(history).toHaveLength(1);
    expect(history[0].error).toHaveLength(1000);
  });
});
