// Where deliveries enter: decoded once (for their ordering key), tracked for acknowledgement, and
// handed to the batch scheduler, which runs a key's deliveries one at a time in delivery order,
// different keys in parallel up to `concurrency`, and groups what is waiting into batches.
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AckLedger } from '../settlement/ack-ledger.js';
import { type Delivery, decodeDelivery } from '../triage/triage.js';
import { BatchScheduler } from './batch-scheduler.js';

export interface DeliveryIntakeOptions {
  concurrency: number;
  batch: { maxMessages: number; maxWaitMs: number };
  maxMessageBytes: number;
  acks: AckLedger;
  process(deliveries: readonly Delivery[]): Promise<void>;
}

export class DeliveryIntake {
  readonly #o: DeliveryIntakeOptions;
  readonly #scheduler: BatchScheduler<Delivery>;
  /** Deliveries received and not yet through `process`, per channel. */
  readonly #perChannel = new Map<ConfirmChannel, { count: number; drained?: Promise<void>; resolve: () => void }>();

  constructor(options: DeliveryIntakeOptions) {
    this.#o = options;
    this.#scheduler = new BatchScheduler<Delivery>({
      concurrency: options.concurrency,
      maxItems: options.batch.maxMessages,
      maxWaitMs: options.batch.maxWaitMs,
      // Undecodable messages have no key: they wait for nothing.
      keyOf: (delivery) => delivery.envelope?.key ?? null,
      run: (deliveries) => options.process(deliveries).finally(() => this.#done(deliveries)),
    });
  }

  /** Deliveries being handled now or waiting for their key or a slot. */
  get inFlight(): number {
    return this.#scheduler.size;
  }

  /** Resolves when every delivery received has been handled. */
  idle(): Promise<void> {
    return this.#scheduler.idle();
  }

  /**
   * Resolves when no delivery of `channel` is running or waiting: what a partition handed over
   * waits for before its channel closes (the others' deliveries do not hold it up).
   */
  drained(channel: ConfirmChannel): Promise<void> {
    const entry = this.#perChannel.get(channel);
    if (!entry) return Promise.resolve();
    entry.drained ??= new Promise<void>((resolve) => {
      entry.resolve = resolve;
    });
    return entry.drained;
  }

  receive(channel: ConfirmChannel, message: ConsumeMessage): void {
    const entry = this.#perChannel.get(channel);
    if (entry) entry.count += 1;
    else this.#perChannel.set(channel, { count: 1, drained: undefined, resolve: () => {} });
    this.#o.acks.track(channel, message);
    this.#scheduler.submit(decodeDelivery(channel, message, this.#o.maxMessageBytes));
  }

  #done(deliveries: readonly Delivery[]): void {
    for (const { channel } of deliveries) {
      const entry = this.#perChannel.get(channel);
      if (!entry) continue;
      entry.count -= 1;
      if (entry.count > 0) continue;
      this.#perChannel.delete(channel);
      entry.resolve();
    }
  }
}
