// Where deliveries enter: decoded once (for their ordering key), grouped into batches, and queued
// so that a key's deliveries are handled one at a time in delivery order while different keys run
// in parallel, up to `concurrency`. Every group handed on is a batch, often of one.
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { type Delivery, decodeDelivery } from '../triage/triage.js';
import { KeySerializer } from './key-serializer.js';

export interface DeliveryIntakeOptions {
  concurrency: number;
  batch: { maxMessages: number; maxWaitMs: number };
  maxMessageBytes: number;
  process(deliveries: readonly Delivery[]): Promise<void>;
}

export class DeliveryIntake {
  readonly #o: DeliveryIntakeOptions;
  readonly #serializer: KeySerializer;
  readonly #pending: Delivery[] = [];
  #flushScheduled = false;

  constructor(options: DeliveryIntakeOptions) {
    this.#o = options;
    this.#serializer = new KeySerializer(options.concurrency);
  }

  /** Groups of deliveries being handled now (or waiting for their key or a slot). */
  get inFlight(): number {
    return this.#serializer.size;
  }

  /** Resolves when every group handed on has been handled. */
  idle(): Promise<void> {
    return this.#serializer.idle();
  }

  receive(channel: ConfirmChannel, message: ConsumeMessage): void {
    const delivery = decodeDelivery(channel, message, this.#o.maxMessageBytes);
    if (this.#o.batch.maxMessages === 1) {
      // Undecodable messages have no key: they wait for nothing.
      void this.#serializer.submit(delivery.envelope?.key ?? null, () => this.#o.process([delivery]));
      return;
    }
    this.#pending.push(delivery);
    if (this.#pending.length >= this.#o.batch.maxMessages) this.#flush();
    else if (!this.#flushScheduled) {
      // Deliveries that arrive together (one socket read) are batched together; waiting
      // longer is opt-in (batch.maxWaitMs), since it adds that much latency.
      this.#flushScheduled = true;
      const wait = this.#o.batch.maxWaitMs;
      if (wait > 0) setTimeout(() => this.#flush(), wait);
      else setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending.splice(0, this.#pending.length);
    if (batch.length === 0) return;
    // A batch waits for every earlier task holding one of its keys, so keys keep delivery order.
    const keys = [...new Set(batch.map((d) => d.envelope?.key).filter((k): k is string => typeof k === 'string'))];
    void this.#serializer.submit(keys, () => this.#o.process(batch));
  }
}
