import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { AckLedger } from '../src/settlement/ack-ledger.js';

/** Records the basic.ack frames a channel would send, and fails like amqplib on a tag acked twice. */
function recordingChannel() {
  const frames: { tag: number; multiple: boolean }[] = [];
  const acked = new Set<number>();
  let highest = 0;
  const channel = {
    ack(message: ConsumeMessage, multiple = false) {
      const tag = message.fields.deliveryTag;
      if (!multiple && acked.has(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
      if (multiple) for (let t = 1; t <= tag; t++) acked.add(t);
      else acked.add(tag);
      highest = Math.max(highest, tag);
      frames.push({ tag, multiple });
    },
  } as unknown as ConfirmChannel;
  return { channel, frames, acked };
}

const message = (tag: number) => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
const turn = () => new Promise((r) => setImmediate(r));

describe('AckLedger: one multiple ack per run of settled deliveries', () => {
  it('acknowledges deliveries settled in one turn with a single multiple ack', async () => {
    const ledger = new AckLedger();
    const { channel, frames } = recordingChannel();
    for (let tag = 1; tag <= 5; tag++) ledger.track(channel, message(tag));
    for (let tag = 1; tag <= 5; tag++) ledger.ack(channel, message(tag));
    await turn();
    expect(frames).toEqual([{ tag: 5, multiple: true }]);
  });

  it('never covers a delivery that is not settled: a run stops at the oldest unsettled one', async () => {
    const ledger = new AckLedger(10_000);
    const { channel, frames, acked } = recordingChannel();
    for (let tag = 1; tag <= 6; tag++) ledger.track(channel, message(tag));
    for (const tag of [1, 2, 4, 5]) ledger.ack(channel, message(tag));
    await turn();
    expect(frames).toEqual([{ tag: 2, multiple: true }]);
    expect(acked.has(3)).toBe(false);
    ledger.ack(channel, message(3));
    await turn();
    expect(frames.at(-1)).toEqual({ tag: 5, multiple: true });
    expect(acked.has(6)).toBe(false);
  });

  it('acknowledges held-back deliveries one by one after holdMs, and never a tag twice', async () => {
    const ledger = new AckLedger(15);
    const { channel, frames } = recordingChannel();
    for (let tag = 1; tag <= 4; tag++) ledger.track(channel, message(tag));
    ledger.ack(channel, message(3));
    ledger.ack(channel, message(4));
    await turn();
    expect(frames).toEqual([]);
    await new Promise((r) => setTimeout(r, 40));
    expect(frames).toEqual([
      { tag: 3, multiple: false },
      { tag: 4, multiple: false },
    ]);
    // The old head settles later: 1 and 2 go as a run; 3 and 4 are not acked again.
    ledger.ack(channel, message(1));
    ledger.ack(channel, message(2));
    await turn();
    expect(frames.at(-1)).toEqual({ tag: 2, multiple: true });
    expect(frames).toHaveLength(3);
  });

  it('flushNow sends everything settled at once (before a graceful close); nothing after forget', async () => {
    const ledger = new AckLedger(10_000);
    const { channel, frames } = recordingChannel();
    for (let tag = 1; tag <= 3; tag++) ledger.track(channel, message(tag));
    ledger.ack(channel, message(1));
    ledger.ack(channel, message(3));
    ledger.flushNow(channel);
    expect(frames).toEqual([
      { tag: 1, multiple: true },
      { tag: 3, multiple: false },
    ]);
    ledger.forget(channel);
    ledger.ack(channel, message(2));
    await turn();
    // A closed channel is forgotten: a late ack sends nothing (the broker requeued the delivery).
    expect(frames).toHaveLength(2);
  });
});
