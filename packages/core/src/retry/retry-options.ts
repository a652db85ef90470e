// The one shape of a retry policy, for the relay (failed publishes) and the consumer (failed
// handlers): the same three numbers with the same meaning, parsed by the same schema. Only the
// defaults differ per component, and each component's option JSDoc names its own.
import { z } from 'zod';
import { delayMsSchema } from '../options/shared-schemas.js';

export interface RetryPolicyDefaults {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * `maxAttempts`: attempts in total, the first included, before the message is dead-lettered
 * (1 = never retried). `baseDelayMs`: the delay before the first retry, doubling at each step up to
 * `maxDelayMs` (see backoff.ts).
 */
export function retryPolicySchema(defaults: RetryPolicyDefaults) {
  return z.object({
    maxAttempts: z.number().int().min(1).max(100).default(defaults.maxAttempts),
    baseDelayMs: delayMsSchema.default(defaults.baseDelayMs),
    maxDelayMs: delayMsSchema.default(defaults.maxDelayMs),
  });
}
