// @ts-check
// Message contracts of the chaos workload. Producers and consumers share the "good" contracts;
// a few producer-side contracts are deliberately out of step with the consumers' to make poison:
// a laxer schema (the consumer's stricter one rejects the payload) and a version no consumer knows.
import { defineMessage } from '@txbox/core';
import { z } from 'zod';

/** The keyed (or unkeyed) stream whose application order and exactly-once effects are checked. */
export const ChaosEvent = defineMessage({
  type: 'chaos.event',
  version: 1,
  schema: z.object({ producer: z.string(), n: z.number().int(), pad: z.string().max(4096) }),
});

/** Consumer side: amount must be a non-negative integer. */
export const ChaosChecked = defineMessage({
  type: 'chaos.checked',
  version: 1,
  schema: z.object({ amount: z.number().int().nonnegative() }),
});

/** Producer side of chaos.checked: accepts any number, so a negative amount reaches the consumers. */
export const ChaosCheckedLax = defineMessage({
  type: 'chaos.checked',
  version: 1,
  schema: z.object({ amount: z.number() }),
});

/** Consumers know version 1 only. */
export const ChaosVersioned = defineMessage({
  type: 'chaos.versioned',
  version: 1,
  schema: z.object({ v: z.number().int() }),
});

/** Producer-only: a future version no consumer has a contract for. */
export const ChaosVersionedFuture = defineMessage({
  type: 'chaos.versioned',
  version: 7,
  schema: z.object({ v: z.number().int(), extra: z.string() }),
});

/** Its handler always fails: retryably (exhausts retries) or with NonRetryableError. */
export const ChaosPoison = defineMessage({
  type: 'chaos.poison',
  version: 1,
  schema: z.object({ mode: z.enum(['retry', 'fatal']) }),
});

export const HANDLED_TYPES = [ChaosEvent.type, ChaosChecked.type, ChaosVersioned.type, ChaosPoison.type];

/** Consumer retry steps: 5 deliveries in total, then dead-letter ('retries exhausted'). */
export const CONSUMER_RETRY_DELAYS_MS = [250, 500, 1000, 2000];

/**
 * Group A's partitioned consumption: small intervals so partitions move many times a run (every
 * kill, freeze and terminated lock session is a rebalance), and a lease a freeze can outlast.
 */
export const GROUP_A_PARTITIONS = { count: 6, rebalanceIntervalMs: 300, leaseMs: 3000 };
