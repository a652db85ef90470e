import { TxboxError } from '@txbox/core';
import { defaultRetryStrategy, WalLevelError } from '@txbox/outbox';
import {
  decodeWalMessage,
  encodeWalMessage,
  formatLsn,
  parseLsn,
  planWalBatch,
  routeBatch,
  StreamQueue,
  standbyStatusUpdate,
} from '@txbox/outbox/internal';
import { describe, expect, it } from 'vitest';

function message(id: string, key: string | null, delayMs = 0) {
  const content = encodeWalMessage({
    id,
    type: 't.x',
    version: 1,
    ordering_key: key,
    exchange: 'ex',
    routing_key: 't.x',
    payloadJson: '{"a":1}',
    headers: {},
    correlation_id: null,
    causation_id: null,
    traceparent: null,
    tracestate: null,
    delay_ms: delayMs,
  });
  return decodeWalMessage(Buffer.from(content), new Date('2026-01-01T00:00:00Z'));
}

const failed = { status: 'failed', error: new TxboxError('PUBLISH_FAILED', 'nacked', { retryable: true }) } as const;
const confirmed = { status: 'confirmed' } as const;

describe('WAL batch plan', () => {
  it('a message round-trips through the logical message content, payload bytes untouched', () => {
    const m = message('id-1', 'k');
    expect(m).toMatchObject({ id: 'id-1', ordering_key: 'k', payload: '{"a":1}', exchange: 'ex' });
  });

  it('parks the messages of a key that has something parked, and the later ones of a delayed message’s key', () => {
    const batch = [message('1', 'a'), message('2', 'b', 500), message('3', 'b'), message('4', null), message('5', 'c')];
    expect(routeBatch(batch, new Set(['a']))).toEqual({ publish: [3, 4], waiting: new Set(['a', 'b']) });
  });

  it('a failed message is parked with its first attempt; the ones that waited are parked in stream order behind it', () => {
    const batch = [message('1', 'a'), message('2', 'b'), message('3', 'a', 10)];
    const plan = planWalBatch({
      messages: batch,
      published: [0, 1],
      outcomes: [failed, confirmed],
      onUnroutable: 'retry',
      retryStrategy: defaultRetryStrategy({ baseDelayMs: 100 }),
      relayId: 'r',
      now: new Date(),
    });
    expect(plan.published).toBe(1);
    expect(plan.park.map((p) => [p.id, p.attempts, p.attempt_history.length])).toEqual([
      ['1', 1, 1],
      ['3', 0, 0],
    ]);
    expect(plan.park[1]?.delay_ms).toBe(10);
  });

  it('a failure the strategy gives up on is parked and dead-lettered with the table relay’s reason', () => {
    const plan = planWalBatch({
      messages: [message('1', 'a')],
      published: [0],
      outcomes: [{ status: 'unroutable' }],
      onUnroutable: 'dead-letter',
      retryStrategy: defaultRetryStrategy(),
      relayId: 'r',
      now: new Date(),
    });
    expect(plan.deadLetters).toMatchObject([{ id: '1', reason: 'unroutable' }]);
    expect(plan.park).toHaveLength(1);
  });
});

describe('stream positions', () => {
  it('LSNs format as PostgreSQL does and status updates carry the exact position', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    const frame = standbyStatusUpdate(parseLsn('0/10'), new Date());
    expect(frame.readBigUInt64BE(9)).toBe(16n);
  });

  it('the slot may be confirmed only up to the last mark after fully taken messages', () => {
    const q = new StreamQueue();
    const m = { content: Buffer.from(''), commitTime: new Date() };
    q.pushMark(5n);
    q.pushMark(7n);
    q.pushMessage(m);
    q.pushMessage(m);
    q.pushMark(20n);
    q.pushMessage(m);
    expect(q.take(1)).toMatchObject({ confirmLsn: 7n });
    expect(q.take(1)).toMatchObject({ confirmLsn: 20n });
    expect(q.take(5)).toMatchObject({ confirmLsn: undefined });
    expect(q.isEmpty).toBe(true);
  });

  it('names the wal_level setting and the managed-service parameters', () => {
    expect(new WalLevelError('replica').message).toMatch(
      /wal_level = logical.*rds\.logical_replication.*cloudsql\.logical_decoding/,
    );
  });
});
