// The streaming side of a WAL relay: take the slot (or stand by while another instance holds
// it), read it in commit order, hand batches to the processor one at a time, and confirm the
// slot only past what is settled. Any failure ends the session; the next one starts again from
// the slot's confirmed position, so what was read but not settled is read again (at least once).
import { setTimeout as delay } from 'node:timers/promises';
import type { TxboxLogger } from '@txbox/core';
import { backoffDelayMs, describeError } from '@txbox/core/internal';
import type pg from 'pg';
import { outboxChannels } from '../diagnostics/outbox-diagnostics.js';
import type { ConfirmPublisher } from '../relay/confirm-publisher.js';
import { BatchPipeline } from './batch-pipeline.js';
import { ReplicationStream, type StreamEvent } from './replication-stream.js';
import { StreamQueue } from './stream-queue.js';
import type { WalBatchProcessor } from './wal-batch.js';
import { WalSlotInUseError } from './wal-errors.js';
import { decodeWalMessage } from './wal-message.js';
import { type Lsn, parseLsn } from './wal-protocol.js';
import { readSlotState } from './wal-slot.js';

export interface WalStreamerOptions {
  relayId: string;
  clientConfig: pg.ClientConfig;
  pool: pg.Pool;
  slot: string;
  publication: string;
  prefix: string;
  publisher: ConfirmPublisher;
  processor: WalBatchProcessor;
  batchSize: number;
  maxInFlightBatches: number;
  standbyRetryMs: number;
  statusIntervalMs: number;
  logger: TxboxLogger;
}

/** After a failed session: 0.2 s, 0.4 s … capped at 5 s, as the table relay's loop. */
const SESSION_BACKOFF = { baseDelayMs: 200, maxDelayMs: 5000 };

export class WalStreamer {
  readonly #deps: WalStreamerOptions;
  readonly #abort = new AbortController();
  #streaming = false;
  #queue = new StreamQueue();
  /** The batches of the current session awaiting confirms. */
  #pipeline: BatchPipeline | undefined;
  #wake: (() => void) | undefined;

  constructor(options: WalStreamerOptions) {
    this.#deps = options;
  }

  /** True while this instance holds the slot. */
  get isStreaming(): boolean {
    return this.#streaming;
  }

  /**
   * Seconds since the oldest commit read but not settled (0 when caught up), on the instance
   * that streams; null on a standby, which cannot know.
   */
  lagSeconds(): number | null {
    if (!this.#streaming) return null;
    const oldest = this.#pipeline?.oldestCommitTime ?? this.#queue.oldestCommitTime;
    return oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
  }

  stop(): void {
    this.#abort.abort();
    this.#wake?.();
  }

  get #stopping(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Runs sessions until stop(); resolves once the last one has settled its batch and closed. */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      try {
        // A standby that cannot reach the broker must not take the slot only to stall on it.
        await this.#deps.publisher.ready();
        await this.#session(() => {
          failures = 0;
        });
      } catch (error) {
        if (this.#stopping) break;
        if (error instanceof WalSlotInUseError) {
          await this.#pause(this.#deps.standbyRetryMs);
          continue;
        }
        failures += 1;
        outboxChannels.error.publish({ relayId: this.#deps.relayId, error });
        this.#deps.logger.error('WAL relay session failed; it starts again from the slot', {
          error: describeError(error),
          failures,
        });
        await this.#pause(backoffDelayMs(failures, SESSION_BACKOFF));
      }
    }
  }

  async #session(onStreaming: () => void): Promise<void> {
    const state = await readSlotState(this.#deps.pool, this.#deps.slot);
    let confirmed: Lsn = parseLsn(state.confirmedFlushLsn);
    this.#queue = new StreamQueue();
    let inTransaction: Date | undefined;
    let paused = false;
    const highWater = this.#deps.batchSize * 4;
    let stream: ReplicationStream | undefined;
    const onEvent = (event: StreamEvent) => {
      switch (event.kind) {
        case 'begin':
          inTransaction = event.commitTime;
          return;
        case 'message':
          if (event.prefix !== this.#deps.prefix || !inTransaction) return;
          this.#queue.pushMessage({ content: event.content, commitTime: inTransaction });
          if (!paused && this.#queue.messageCount >= highWater) {
            paused = true;
            stream?.pause();
          }
          break;
        case 'commit':
          inTransaction = undefined;
          this.#queue.pushMark(event.endLsn);
          break;
        case 'keepalive':
          // Outside a transaction everything before walEnd was sent: once it is settled the
          // slot may move there, though none of it was ours (other tables' traffic).
          if (!inTransaction) this.#queue.pushMark(event.walEnd);
          if (event.replyRequested) stream?.sendStatus(confirmed);
          break;
      }
      this.#wake?.();
    };
    stream = await ReplicationStream.open({
      clientConfig: this.#deps.clientConfig,
      slot: this.#deps.slot,
      publication: this.#deps.publication,
      onEvent,
      logger: this.#deps.logger,
    });
    const open = stream;
    this.#streaming = true;
    onStreaming();
    this.#deps.logger.info('WAL relay streaming the slot', { relayId: this.#deps.relayId, slot: this.#deps.slot });
    let ended: unknown;
    open.ended.then(
      () => {
        ended ??= new Error('The replication stream ended');
        this.#wake?.();
      },
      (error: unknown) => {
        ended = error;
        this.#wake?.();
      },
    );
    const heartbeat = setInterval(() => open.sendStatus(confirmed), this.#deps.statusIntervalMs);
    const pipeline = new BatchPipeline({
      processor: this.#deps.processor,
      maxInFlight: this.#deps.maxInFlightBatches,
      confirm: (lsn) => {
        if (lsn <= confirmed) return;
        confirmed = lsn;
        open.sendStatus(confirmed);
      },
    });
    this.#pipeline = pipeline;
    try {
      while (!this.#stopping && ended === undefined) {
        await pipeline.settleReady();
        if (this.#queue.isEmpty) {
          await this.#nextEvent(pipeline.headSettled());
          continue;
        }
        await pipeline.makeRoom();
        const batch = this.#queue.take(this.#deps.batchSize);
        if (batch.messages.length > 0) {
          // Broker unreachable: end the session (nothing is parked for an outage); the slot keeps the rest.
          await this.#deps.publisher.ready();
          await pipeline.add(
            batch.messages.map((m) => decodeWalMessage(m.content, m.commitTime)),
            batch.confirmLsn,
          );
        } else {
          pipeline.addMark(batch.confirmLsn);
        }
        if (paused && this.#queue.messageCount < this.#deps.batchSize) {
          paused = false;
          open.resume();
        }
      }
      if (ended !== undefined && !this.#stopping) throw ended;
    } finally {
      clearInterval(heartbeat);
      // What is settled is confirmed (a successor does not repeat it); the rest is read again.
      await pipeline.drain();
      this.#pipeline = undefined;
      this.#streaming = false;
      open.sendStatus(confirmed);
      await open.close();
    }
  }

  /** Waits for a stream event, a stop, or `alsoWake` (the oldest batch in flight settling). */
  async #nextEvent(alsoWake: Promise<unknown>): Promise<void> {
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#wake = resolve;
      }),
      alsoWake,
    ]);
    this.#wake = undefined;
  }

  async #pause(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.#abort.signal }).catch(() => {});
  }
}
