// Samples the admin API on a timer into a ring buffer, so the page can draw the last minutes of
// backlog and rates without a metrics system. One sample at a time (a slow database never piles
// up overlapping reads); a failed sample is kept as the error, shown on the page, and the timer goes on.

import { TxboxError } from '@txbox/core';
import type { InboxAdmin, InboxGroupStatus } from '@txbox/inbox';
import type { OutboxAdmin, OutboxStats, OutboxStatus } from '@txbox/outbox';
import { type CounterSample, type RatePoint, ratesOf } from './rates.js';
import { RingBuffer } from './ring-buffer.js';

/** What one sample saw. */
export interface Snapshot {
  at: number;
  outbox: OutboxStats;
  groups: InboxGroupStatus[];
  /** WAL mode's replication slot; null when there is none, undefined when not read (timer samples). */
  slot?: OutboxStatus['slot'];
}

export interface SamplerSources {
  outbox: OutboxAdmin;
  /** Absent without an AMQP connection and groups: the inbox side is then not sampled. */
  inbox: InboxAdmin | undefined;
  groups: readonly string[];
}

export class Sampler {
  readonly #sources: SamplerSources;
  readonly #counters: RingBuffer<CounterSample>;
  readonly #backlog: RingBuffer<{ at: number; pending: number; due: number }>;
  #latest: Snapshot | undefined;
  #error: unknown;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<Snapshot | undefined> | undefined;

  constructor(sources: SamplerSources, capacity: number) {
    this.#sources = sources;
    this.#counters = new RingBuffer(capacity);
    this.#backlog = new RingBuffer(capacity);
  }

  /** Samples now and then every `intervalMs` until {@link stop}. */
  start(intervalMs: number): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    // The dashboard must never keep a process alive on its own (a mounted handler in a test, a CLI after stop).
    this.#timer.unref();
  }

  stop(): Promise<unknown> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#running ?? Promise.resolve();
  }

  /** Takes one sample (or joins the one under way) and returns it; undefined when it failed. */
  sample(): Promise<Snapshot | undefined> {
    this.#running ??= this.#take().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #take(): Promise<Snapshot | undefined> {
    try {
      const { snapshot, counters } = await this.#read();
      this.#counters.push(counters);
      this.#backlog.push({ at: snapshot.at, pending: snapshot.outbox.pending, due: snapshot.outbox.due });
      this.#latest = snapshot;
      this.#error = undefined;
      return snapshot;
    } catch (error) {
      this.#error = error;
      return undefined;
    }
  }

  /** A fresh reading for the page, not recorded (reloads must not make the chart's intervals uneven). */
  async current(): Promise<Snapshot> {
    return (await this.#read(true)).snapshot;
  }

  /** With `full`, through `status()`: the migrations are checked and the WAL slot is read too. */
  async #read(full = false): Promise<{ snapshot: Snapshot; counters: CounterSample }> {
    const { outbox, inbox, groups } = this.#sources;
    const at = Date.now();
    const [status, written, inboxStatus] = await Promise.all([
      full ? outbox.status() : outbox.stats().then((stats) => ({ stats, slot: undefined })),
      outbox.writtenTotal(),
      inbox && groups.length > 0 ? inbox.status([...groups]) : undefined,
    ]);
    const { stats, slot } = status;
    if (!stats) {
      throw new TxboxError('SCHEMA_NOT_MIGRATED', 'The outbox schema is missing or behind: run `txbox migrate all`.');
    }
    const groupStatus = inboxStatus?.groups ?? [];
    const records = groupStatus.map((g) => g.records);
    const known = records.length > 0 && records.every((r) => r !== null);
    return {
      snapshot: { at, outbox: stats, groups: groupStatus, slot },
      counters: {
        at,
        written,
        pending: stats.pending,
        deadLetters: stats.deadLetters,
        consumedRecords: known ? records.reduce<number>((sum, r) => sum + (r ?? 0), 0) : null,
      },
    };
  }

  /** The newest snapshot, or undefined before the first succeeded. */
  get latest(): Snapshot | undefined {
    return this.#latest;
  }

  /** The error of the last sample, when it failed. */
  get error(): unknown {
    return this.#error;
  }

  rates(): RatePoint[] {
    return ratesOf(this.#counters.toArray());
  }

  backlog(): { at: number; pending: number; due: number }[] {
    return this.#backlog.toArray();
  }
}
