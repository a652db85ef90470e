// The one shape of a retry policy, for the relay (failed publishes) and the consumer (failed
// handlers): the same three numbers with the same meaning, parsed by the same schema. Only the
// defaults differ per component, and each component's option JSDoc names its own.
import { z } from 'zod';

export interface RetryPolicyDefaults {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

const DAY_MS = 86_400_000;

/**
 * `maxAttempts`: attempts in total, the first included, before the message is dead-lettered
 * (1 = never retried). `baseDelayMs`: the delay before the first retry, doubling at each step up to
 * `maxDelayMs` (see backoff.ts).
 */
export function retryPolicySchema(defaults: RetryPolicyDefaults) {
  return z.object({
    maxAttempts: z.number().int().min(1).max(100).default(defaults.maxAttempts),
    baseDelayMs: z.number().int().min(1).max(DAY_MS).default(defaults.baseDelayMs),
    maxDelayMs: z.number().int().min(1).max(DAY_MS).default(defaults.maxDelayMs),
  });
}
