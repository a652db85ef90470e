// Up to `maxInFlight` stream batches awaiting confirms at once (as the table relay's
// maxInFlightBatches), settled strictly in stream order: the slot is confirmed past a batch
// only once it and every batch before it are settled, and a batch parks messages only after the
// one before it did (the table gets them in stream order). A batch is routed knowing which keys
// the batches still in flight park, so the later messages of those keys wait behind them.

import type { WalBatchProcessor } from './wal-batch.js';
import type { WalMessage } from './wal-message.js';
import type { Lsn } from './wal-protocol.js';

interface InFlight {
  done: Promise<unknown>;
  settled: boolean;
  waiting: ReadonlySet<string>;
  confirmLsn: Lsn | undefined;
  /** Commit time of the batch's first message (for the lag), if it has messages. */
  since: Date | undefined;
}

export class BatchPipeline {
  readonly #processor: WalBatchProcessor;
  readonly #maxInFlight: number;
  readonly #confirm: (lsn: Lsn) => void;
  readonly #inFlight: InFlight[] = [];
  #previous: Promise<unknown> = Promise.resolve();

  constructor(options: { processor: WalBatchProcessor; maxInFlight: number; confirm: (lsn: Lsn) => void }) {
    this.#processor = options.processor;
    this.#maxInFlight = options.maxInFlight;
    this.#confirm = options.confirm;
  }

  get isEmpty(): boolean {
    return this.#inFlight.length === 0;
  }

  /** Commit time of the oldest message not settled yet, if one is in flight. */
  get oldestCommitTime(): Date | undefined {
    return this.#inFlight.find((b) => b.since)?.since;
  }

  /** Resolves when the oldest batch settles; never while none is in flight (a waiter must not spin). */
  headSettled(): Promise<unknown> {
    return this.#inFlight[0]?.done.catch(() => {}) ?? new Promise(() => {});
  }

  /** Confirms the settled batches at the head; throws the error of a batch that failed. */
  async settleReady(): Promise<void> {
    while (this.#inFlight[0]?.settled) await this.#settleHead();
  }

  /** Settles the head until there is room for another batch. */
  async makeRoom(): Promise<void> {
    await this.settleReady();
    while (this.#inFlight.length >= this.#maxInFlight) await this.#settleHead();
  }

  /** Starts a batch; `confirmLsn` is where the slot may go once it (and all before it) settled. */
  async add(messages: WalMessage[], confirmLsn: Lsn | undefined): Promise<void> {
    const waitingBefore = new Set<string>();
    for (const b of this.#inFlight) for (const key of b.waiting) waitingBefore.add(key);
    const { waiting, done } = await this.#processor.begin(messages, waitingBefore, this.#previous);
    this.#push({ done, waiting, confirmLsn, since: messages[0]?.occurred_at });
  }

  /** A position with no message before it (an idle keepalive, another schema's commit). */
  addMark(confirmLsn: Lsn | undefined): void {
    this.#push({ done: this.#previous, waiting: new Set(), confirmLsn, since: undefined });
  }

  /** Waits for every batch and confirms the settled ones in order, up to the first that failed. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.#inFlight.map((b) => b.done));
    try {
      while (this.#inFlight.length > 0) await this.#settleHead();
    } catch {
      // Not settled: the next session reads it again.
    }
    this.#inFlight.length = 0;
  }

  #push(batch: Omit<InFlight, 'settled'>): void {
    const entry: InFlight = { ...batch, settled: false };
    const mark = () => {
      entry.settled = true;
    };
    entry.done.then(mark, mark);
    this.#previous = entry.done;
    this.#inFlight.push(entry);
  }

  async #settleHead(): Promise<void> {
    const head = this.#inFlight[0];
    if (!head) return;
    await head.done;
    this.#inFlight.shift();
    if (head.confirmLsn !== undefined) this.#confirm(head.confirmLsn);
  }
}
