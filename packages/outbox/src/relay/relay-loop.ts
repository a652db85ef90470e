// The relay's publish loop: when to claim (a NOTIFY, the poll interval, a full batch, the short
// poll of the awake window), how many batches may await confirms at once, and how to back off
// after a failure. What a batch does once claimed is the settler's business; this file only
// schedules.
import type { AmqpConnection, TxboxLogger } from '@txbox/core';
import { backoffDelayMs, sleep } from '@txbox/core/internal';
import { outboxChannels } from '../diagnostics/outbox-diagnostics.js';
import type { ConfirmPublisher } from './confirm-publisher.js';
import type { RelayStore } from './relay-store.js';
import type { BatchSettler } from './settle-batch.js';

export interface RelayLoopOptions {
  relayId: string;
  amqp: AmqpConnection;
  publisher: ConfirmPublisher;
  store: RelayStore;
  settler: BatchSettler;
  batchSize: number;
  pollIntervalMs: number;
  /** How long to stay awake after finding messages (0: never). */
  awakeMs: number;
  awakePollMs: number;
  maxInFlightBatches: number;
  /** The relay's lifecycle: true once stop() began. */
  isStopping: () => boolean;
  logger: TxboxLogger;
}

/** After a failed round: 0.2 s, 0.4 s … capped at 5 s, so the relay resumes within seconds of a recovery. */
const LOOP_BACKOFF = { baseDelayMs: 200, maxDelayMs: 5000 };

export class RelayLoop {
  readonly #deps: RelayLoopOptions;
  #signalStop: () => void = () => {};
  readonly #stopRequested = new Promise<void>((resolve) => {
    this.#signalStop = resolve;
  });
  #wake: (() => void) | undefined;
  #wakeRequested = false;
  /**
   * Until when (performance.now()) this relay is awake: it polls every awakePollMs and, once the
   * window ends, polls once more. Writers that skipped their NOTIFY because the window was open
   * committed before it ended (outbox-sql.ts: WAKE_MARGIN_MS), so that last poll sees their rows.
   * Never earlier than the deadline writers see (markAwake measures what is left after writing).
   */
  #awakeUntil = 0;

  constructor(options: RelayLoopOptions) {
    this.#deps = options;
  }

  /** Look for work now (a NOTIFY arrived, or the listener reconnected and may have missed some). */
  requestWake(): void {
    this.#wakeRequested = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Cuts short any wait or backoff, so the loop sees the relay stopping and winds down. */
  stop(): void {
    this.#signalStop();
    this.requestWake();
  }

  /** Runs until the relay stops, then resolves once every in-flight batch has settled. */
  async run(): Promise<void> {
    let failures = 0;
    // Claiming batch n+1 while batch n waits for confirms, and publishing it while batch n is
    // written to PostgreSQL, keeps both PostgreSQL and RabbitMQ busy. Per-key order still holds:
    // batch n's messages are leased, so no newer message of their keys can be claimed until
    // they are settled. `inFlight`: batches publishing; `settling`: published, being written.
    const inFlight = new Set<Promise<void>>();
    const settling = new Set<Promise<void>>();
    // After a full batch more is likely waiting: claim at once. Otherwise probe first.
    let lastWasFull = false;
    while (!this.#deps.isStopping()) {
      try {
        if (this.#deps.amqp.isBlocked) {
          // RabbitMQ is refusing publishes (resource alarm): claiming would only burn leases.
          await this.#waitForWork();
          this.#wakeRequested = false;
          continue;
        }
        await this.#deps.publisher.ready();
        failures = 0; // connected: the next failure starts a fresh backoff
        // One batch is claimed ahead: its claim overlaps the batches publishing, and it starts
        // publishing the moment a slot frees (it stays leased meanwhile; publishTimeoutMs < leaseMs).
        while (settling.size >= this.#deps.maxInFlightBatches) await Promise.race(settling);
        if (this.#deps.isStopping()) break;
        this.#wakeRequested = false;
        const started = performance.now();
        const rows = await this.#deps.store.claim({ probe: !lastWasFull });
        lastWasFull = rows.length >= this.#deps.batchSize;
        failures = 0;
        if (rows.length > 0) await this.#stayAwake();
        // A batch claimed goes out even if stop() began meanwhile: stop waits for it.
        while (rows.length > 0 && inFlight.size >= this.#deps.maxInFlightBatches) await Promise.race(inFlight);
        if (rows.length > 0) {
          const batch = this.#deps.settler.start(rows, started);
          const publishing: Promise<void> = batch.published
            .catch(() => {}) // reported through `settled`
            .finally(() => inFlight.delete(publishing));
          inFlight.add(publishing);
          const written: Promise<void> = batch.settled
            .then(
              () => undefined,
              (error: unknown) => this.#reportError(error, 0),
            )
            .finally(() => settling.delete(written));
          settling.add(written);
        }
        if (rows.length < this.#deps.batchSize) await this.#waitForWork();
      } catch (error) {
        if (this.#deps.isStopping()) break;
        failures += 1;
        this.#reportError(error, failures);
        // Backoff that stop() cuts short (NOTIFYs do not: a broker outage under load would
        // otherwise turn every commit into a connection attempt).
        // Capped at 5 s so the relay resumes within seconds of the broker or database coming back.
        await Promise.race([sleep(backoffDelayMs(failures, LOOP_BACKOFF)), this.#stopRequested]);
      }
    }
    await Promise.allSettled([...inFlight, ...settling]);
  }

  /** Extends the awake window once half of it is gone (one statement per ~awakeMs/2 while busy). */
  async #stayAwake(): Promise<void> {
    const { awakeMs } = this.#deps;
    if (awakeMs === 0) return;
    const now = performance.now();
    if (this.#awakeUntil - now > awakeMs / 2) return;
    try {
      const remainingMs = await this.#deps.store.markAwake(awakeMs);
      // Counted from the reply: never before the deadline PostgreSQL holds.
      this.#awakeUntil = Math.max(this.#awakeUntil, performance.now() + remainingMs);
    } catch (error) {
      // Writers keep notifying (the row is old or missing); nothing is lost.
      this.#deps.logger.debug('Outbox relay could not mark itself awake', { error: (error as Error).message });
    }
  }

  /**
   * Waits for a NOTIFY, a stop, or the next poll: the short awake poll while the window is open
   * (the last one lands just after it ends), the poll interval once asleep.
   */
  async #waitForWork(): Promise<void> {
    if (this.#wakeRequested) return;
    const awakeLeft = this.#awakeUntil - performance.now();
    const delay = awakeLeft >= 0 ? Math.min(this.#deps.awakePollMs, awakeLeft + 1) : this.#deps.pollIntervalMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, delay);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #reportError(error: unknown, failures: number): void {
    outboxChannels.error.publish({ relayId: this.#deps.relayId, error });
    this.#deps.logger.error('Outbox relay error; it keeps running', { error: (error as Error).message, failures });
  }
}
