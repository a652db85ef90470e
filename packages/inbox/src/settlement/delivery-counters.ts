// What this instance did with its deliveries since start, for `stats()`. Kept apart from the
// settlement code that bumps the counts, so the facade can report them without reaching into it.
// In memory only: a restart starts from zero (the inbox table holds the durable truth).

export class DeliveryCounters {
  readonly counts = { processed: 0, duplicatesSkipped: 0, retried: 0, deadLettered: 0, discarded: 0 };
  readonly #durations = { total: 0, count: 0, max: 0 };

  processed(durationMs: number): void {
    this.counts.processed += 1;
    this.#durations.total += durationMs;
    this.#durations.count += 1;
    this.#durations.max = Math.max(this.#durations.max, durationMs);
  }

  /** Mean and max handler duration (ms) of the processed deliveries. */
  get handlerDurationMs(): { mean: number; max: number } {
    const { total, count, max } = this.#durations;
    return { mean: count === 0 ? 0 : total / count, max };
  }
}
