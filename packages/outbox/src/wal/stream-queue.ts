// What the slot sent and the relay has not settled yet, in stream order: messages, and the
// positions the slot may be confirmed up to once every message before them is settled (a
// commit's end; a keepalive's WAL end, outside a transaction). Pure: no I/O.
import type { Lsn } from './wal-protocol.js';

export interface QueuedMessage {
  content: Buffer;
  /** Commit time of its transaction. */
  commitTime: Date;
}

type Entry = { message: QueuedMessage } | { mark: Lsn };

export interface TakenBatch {
  messages: QueuedMessage[];
  /** The slot may be confirmed up to here once `messages` are settled; undefined: not yet. */
  confirmLsn: Lsn | undefined;
}

export class StreamQueue {
  #entries: Entry[] = [];
  #head = 0;
  #messages = 0;

  get messageCount(): number {
    return this.#messages;
  }

  get isEmpty(): boolean {
    return this.#head >= this.#entries.length;
  }

  /** Commit time of the oldest queued message, if any. */
  get oldestCommitTime(): Date | undefined {
    for (let i = this.#head; i < this.#entries.length; i += 1) {
      const entry = this.#entries[i] as Entry;
      if ('message' in entry) return entry.message.commitTime;
    }
    return undefined;
  }

  pushMessage(message: QueuedMessage): void {
    this.#entries.push({ message });
    this.#messages += 1;
  }

  /** Marks only move forward; consecutive marks collapse into the last (an idle stream stays one entry). */
  pushMark(lsn: Lsn): void {
    const last = this.#entries[this.#entries.length - 1];
    if (last && 'mark' in last && this.#entries.length > this.#head) {
      if (lsn > last.mark) last.mark = lsn;
      return;
    }
    this.#entries.push({ mark: lsn });
  }

  /** Takes up to `max` messages from the head, and the marks that directly follow the last one. */
  take(max: number): TakenBatch {
    const batch: TakenBatch = { messages: [], confirmLsn: undefined };
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head] as Entry;
      if ('message' in entry) {
        if (batch.messages.length >= max) break;
        batch.messages.push(entry.message);
        this.#messages -= 1;
      } else {
        batch.confirmLsn = entry.mark;
      }
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }
}
