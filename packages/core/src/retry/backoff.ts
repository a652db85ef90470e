// The one backoff formula in txbox. Everything that waits before trying again uses it: the
// relay's retry of a failed publish, the inbox's delay-queue steps, the reconnect loops of the
// relay, the consumer and the NOTIFY listener, and AMQP connection attempts.
//
// Not p-retry: the inbox needs the whole schedule up front (one delay queue per step, each with
// its TTL) and the relay writes a retry time into the outbox row instead of waiting in a loop —
// neither is a loop p-retry can run — and a second formula inside p-retry would mean two meanings
// of "base delay". The loops that do wait are a few lines around `sleep` that `stop()` interrupts.

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  baseDelayMs: number;
  /** Cap on any one delay, in ms. */
  maxDelayMs: number;
}

/** Largest exponent used: 2^30 times any base above 1 ms is over every cap txbox accepts. */
const MAX_EXPONENT = 30;

/** Retry `retry` (1 for the first) waits min(max, base · 2^(retry − 1)). */
export function backoffDelayMs(retry: number, options: BackoffOptions): number {
  const exponent = Math.min(Math.max(retry, 1) - 1, MAX_EXPONENT);
  return Math.min(options.maxDelayMs, Math.round(options.baseDelayMs * 2 ** exponent));
}

/**
 * The same delay with "equal jitter": half of it fixed, the other half random. Spreads the
 * retries of a burst that failed together (a broker outage) while keeping at least half of
 * each step.
 */
export function jitteredBackoffMs(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = backoffDelayMs(retry, options);
  return Math.round(step / 2 + (random() * step) / 2);
}

/** The delays of retries 1…`retries`, without jitter (one delay queue per step). */
export function backoffSchedule(retries: number, options: BackoffOptions): number[] {
  return Array.from({ length: retries }, (_, index) => backoffDelayMs(index + 1, options));
}
