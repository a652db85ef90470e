// Which outbox dead letters an operation applies to. Parsed once at the admin boundary (zod), with
// the selection criteria the inbox's dead-letter queues share (core's selectionSchema).
import { parseSelection, selectionSchema } from '@txbox/core/internal';
import { z } from 'zod';

/** The largest page a list returns, and the most ids one call names. */
export const MAX_DEAD_LETTER_PAGE = 10_000;

/**
 * Selects dead letters by ids (UUIDs), type, ordering key and dead-lettered time; every given
 * criterion must match. With none, `requeue` and `purge` refuse to run unless told `all: true`.
 */
export const deadLetterFilterSchema = selectionSchema(
  z.uuid({ error: 'must be a message id (UUID)' }),
  MAX_DEAD_LETTER_PAGE,
  {},
);

export type DeadLetterFilter = z.input<typeof deadLetterFilterSchema>;
export type ResolvedDeadLetterFilter = z.output<typeof deadLetterFilterSchema>;

export const deadLetterPageSchema = z
  .object({
    /** At most this many. @defaultValue `100` */
    limit: z.number().int().min(1).max(MAX_DEAD_LETTER_PAGE).default(100),
    /** Skip this many (oldest first). @defaultValue `0` */
    offset: z.number().int().min(0).default(0),
  })
  .strict();

export type DeadLetterPage = z.input<typeof deadLetterPageSchema>;

/** Parses a selection; one that changes something (`mutation`) must name criteria or `all: true`. */
export function parseDeadLetterFilter(
  input: unknown,
  operation: string,
  options: { mutation: boolean },
): ResolvedDeadLetterFilter {
  return parseSelection(deadLetterFilterSchema, input, `deadLetters.${operation}`, options);
}

/** The bound parameters of the dead-letter selection SQL, in order ($1..$5). */
export function deadLetterFilterParams(filter: ResolvedDeadLetterFilter): unknown[] {
  return [filter.ids ?? null, filter.type ?? null, filter.key ?? null, filter.since ?? null, filter.until ?? null];
}
