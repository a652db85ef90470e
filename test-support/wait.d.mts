/**
 * Waiting in tests, the bench and chaos tools. Two verbs, one meaning each:
 * - `waitUntil(what, condition)` polls until `condition` returns something truthy and resolves with it;
 * - `withDeadline(promise, ms, what)` settles as `promise` does, or rejects once `ms` have passed.
 * Both fail with a message naming `what`, so a timeout says what never happened.
 */

export interface WaitOptions {
  /** Give up after this long. @defaultValue 30_000 */
  readonly timeoutMs?: number;
  /** Pause between two checks. @defaultValue 25 */
  readonly intervalMs?: number;
}

type Falsy = undefined | null | false | 0 | '';

/**
 * Polls `condition` until it returns a truthy value and resolves with that value (so
 * `const leased = await waitUntil('rows leased', () => leasedBy(...))` reads the count that ended
 * the wait). Rejects with "Timed out after … waiting for <what>" after `timeoutMs`.
 */
export function waitUntil<T>(
  what: string | (() => string),
  condition: () => Promise<T | Falsy> | T | Falsy,
  options?: WaitOptions,
): Promise<T>;

/**
 * Settles as `promise` does, or rejects with "<what> did not finish within <ms> ms": a bound on an
 * operation that must not hang (stop(), a start() against an unreachable broker), failing with a
 * name instead of running into the test timeout.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T>;

/**
 * A plain pause: for a handler that must be slow, or to let a background loop run a few times.
 * Not for "nothing else arrived": assert a count that can be observed instead.
 */
export function sleep(ms: number): Promise<void>;
