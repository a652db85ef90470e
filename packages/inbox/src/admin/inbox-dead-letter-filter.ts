// Which messages of a group's dead-letter queue an operation applies to. Parsed once at the admin
// boundary (zod), with the selection criteria the outbox's dead letters share (core's selectionSchema).
import { parseSelection, selectionSchema } from '@txbox/core/internal';
import { z } from 'zod';

/** The most messages one call lists, and the most ids it names. */
export const MAX_INBOX_DEAD_LETTER_PAGE = 10_000;

/** An AMQP message-id: a short string (AMQP shortstr), no control characters. */
const messageId = z
  .string()
  .min(1)
  .refine((v) => Buffer.byteLength(v) <= 255 && !/\p{Cc}/u.test(v), {
    error: 'must be a message id: 1 to 255 bytes, no control characters',
  });

/**
 * Selects dead-lettered messages of one group by ids, type (the AMQP `type`), ordering key (the
 * `x-txbox-key` header) and dead-lettered time (the last failed attempt); every given criterion
 * must match.
 */
export const inboxDeadLetterFilterSchema = selectionSchema(messageId, MAX_INBOX_DEAD_LETTER_PAGE, {
  /** Stop after this many matches. @defaultValue `100` for `list`, unlimited for `replay` and `purge` */
  limit: z.number().int().min(1).max(MAX_INBOX_DEAD_LETTER_PAGE).optional(),
});

export type InboxDeadLetterFilter = z.input<typeof inboxDeadLetterFilterSchema>;
export type ResolvedInboxDeadLetterFilter = z.output<typeof inboxDeadLetterFilterSchema>;

/** Parses a selection; one that changes something (`mutation`) must name criteria or `all: true`. */
export function parseInboxDeadLetterFilter(
  input: unknown,
  operation: string,
  options: { mutation: boolean },
): ResolvedInboxDeadLetterFilter {
  return parseSelection(inboxDeadLetterFilterSchema, input, `inboxDeadLetters.${operation}`, options);
}
