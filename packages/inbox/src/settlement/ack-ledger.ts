// Acknowledgements, coalesced: one `basic.ack` with `multiple` for a run of settled deliveries
// instead of one frame per delivery (less work for the broker and for this process on every
// message). Deliveries are tracked per channel in delivery-tag order; when settled ones form a run
// from the oldest unsettled delivery, the newest tag of the run acknowledges them all.
//
// A multiple ack covers every unacknowledged tag up to it, so it may only be sent when every
// delivery up to that tag is settled; a delivery left unacknowledged on purpose (its copy to a
// retry queue failed: the broker must redeliver it) is never settled and so never covered. A run
// held back by an older delivery still running is acknowledged tag by tag after `holdMs`, so a
// slow or stuck delivery never keeps the others' prefetch slots. A tag is acknowledged once only
// (a second ack of a tag is a channel error).
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';

interface ChannelAcks {
  /** Delivery tags tracked and not yet acknowledged, oldest first (from `head`). */
  tags: number[];
  head: number;
  /** Settled tags not acknowledged yet. */
  settled: Set<number>;
  flushScheduled: boolean;
  holdTimer: NodeJS.Timeout | undefined;
}

export class AckLedger {
  readonly #channels = new Map<ConfirmChannel, ChannelAcks>();
  readonly #holdMs: number;

  /** @param holdMs how long a settled delivery may wait for older ones before it is acknowledged alone */
  constructor(holdMs = 20) {
    this.#holdMs = holdMs;
  }

  /** Called for every delivery, in the order the channel delivers them. */
  track(channel: ConfirmChannel, message: ConsumeMessage): void {
    this.#state(channel).tags.push(message.fields.deliveryTag);
  }

  /**
   * Acknowledges a settled delivery: at the end of this turn of the event loop, together with the
   * others settled meanwhile. After the channel closed, nothing is sent (the broker requeued it).
   */
  ack(channel: ConfirmChannel, message: ConsumeMessage): void {
    // Untracked: the channel closed and was forgotten (its deliveries are requeued).
    const state = this.#channels.get(channel);
    if (!state) return;
    state.settled.add(message.fields.deliveryTag);
    if (state.flushScheduled) return;
    state.flushScheduled = true;
    setImmediate(() => this.#flush(channel, state));
  }

  /** Sends every acknowledgement due on `channel` now (before closing it gracefully). */
  flushNow(channel: ConfirmChannel): void {
    const state = this.#channels.get(channel);
    if (state) this.#releaseHeld(channel, state);
  }

  /** Drops what is tracked for a closed channel: the broker requeued its unacknowledged deliveries. */
  forget(channel: ConfirmChannel): void {
    const state = this.#channels.get(channel);
    if (state?.holdTimer) clearTimeout(state.holdTimer);
    this.#channels.delete(channel);
  }

  #state(channel: ConfirmChannel): ChannelAcks {
    let state = this.#channels.get(channel);
    if (!state) {
      state = { tags: [], head: 0, settled: new Set(), flushScheduled: false, holdTimer: undefined };
      this.#channels.set(channel, state);
    }
    return state;
  }

  #flush(channel: ConfirmChannel, state: ChannelAcks): void {
    state.flushScheduled = false;
    let last: number | undefined;
    while (state.head < state.tags.length && state.settled.has(state.tags[state.head] as number)) {
      last = state.tags[state.head] as number;
      state.settled.delete(last);
      state.head += 1;
    }
    if (state.head > 1024 && state.head * 2 > state.tags.length) {
      state.tags = state.tags.slice(state.head);
      state.head = 0;
    }
    if (last !== undefined) send(channel, last, true);
    if (state.settled.size > 0 && !state.holdTimer) {
      state.holdTimer = setTimeout(() => this.#releaseHeld(channel, state), this.#holdMs);
      state.holdTimer.unref();
    }
  }

  /** Acknowledges, one by one, the settled deliveries an older unsettled one still holds back. */
  #releaseHeld(channel: ConfirmChannel, state: ChannelAcks): void {
    if (state.holdTimer) clearTimeout(state.holdTimer);
    state.holdTimer = undefined;
    this.#flush(channel, state);
    if (state.settled.size === 0) return;
    if (state.holdTimer) {
      clearTimeout(state.holdTimer);
      state.holdTimer = undefined;
    }
    for (const tag of state.settled) send(channel, tag, false);
    const acked = state.settled;
    state.tags = state.tags.slice(state.head).filter((tag) => !acked.has(tag));
    state.head = 0;
    state.settled = new Set();
  }
}

function send(channel: ConfirmChannel, deliveryTag: number, multiple: boolean): void {
  try {
    // amqplib reads only the delivery tag of the message it is given.
    channel.ack({ fields: { deliveryTag } } as ConsumeMessage, multiple);
  } catch {
    // The channel closed after commit: the broker redelivers, and the inbox skips the duplicate.
  }
}
