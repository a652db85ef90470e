// Rates between two samples of cumulative counters. The admin API exposes levels, not events,
// so the rates are derived (documented in the README):
// - written: identity values the outbox handed out (a rolled-back insert also takes one);
// - published: what left the outbox without being dead-lettered:
//     written − Δpending − max(0, Δdead letters)
//   (a requeue writes a row and removes a dead letter, a purge only removes one: clamping the
//   dead-letter change at 0 keeps both from counting as published);
// - consumed: growth of each group's inbox records (retention deleting records hides it meanwhile).

/** One reading of the counters the rates are derived from. */
export interface CounterSample {
  at: number;
  written: number;
  pending: number;
  deadLetters: number;
  /** Inbox records of all configured groups, or null when unknown (inbox schema not migrated). */
  consumedRecords: number | null;
}

export interface RatePoint {
  at: number;
  /** Messages per second over the interval ending at `at`. */
  written: number;
  published: number;
  /** Null when the inbox records are unknown at either end. */
  consumed: number | null;
}

export function ratesBetween(previous: CounterSample, current: CounterSample): RatePoint {
  const seconds = Math.max((current.at - previous.at) / 1000, 0.001);
  const written = Math.max(0, current.written - previous.written);
  const deadLettered = Math.max(0, current.deadLetters - previous.deadLetters);
  const published = Math.max(0, written - (current.pending - previous.pending) - deadLettered);
  const consumed =
    current.consumedRecords === null || previous.consumedRecords === null
      ? null
      : Math.max(0, current.consumedRecords - previous.consumedRecords) / seconds;
  return { at: current.at, written: written / seconds, published: published / seconds, consumed };
}

/** Rate points of consecutive samples, oldest first. */
export function ratesOf(samples: readonly CounterSample[]): RatePoint[] {
  const out: RatePoint[] = [];
  for (let i = 1; i < samples.length; i += 1)
    out.push(ratesBetween(samples[i - 1] as CounterSample, samples[i] as CounterSample));
  return out;
}
