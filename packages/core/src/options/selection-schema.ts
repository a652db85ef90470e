// What an operator's command selects from a set of dead letters (outbox rows or a consumer
// group's dead-letter queue): the same criteria on both sides, so the CLI, the Nest admin service
// and a dashboard mean one thing by "--type X --since T". Only the id's form differs.
import { z } from 'zod';
import { ConfigurationError } from '../errors/txbox-error.js';
import { parseOptions } from './parse-options.js';

const date = z.coerce.date({ error: 'must be a date (ISO 8601) or a Date' });

/**
 * The selection schema: every given criterion must match. `extra` adds fields of one side (a
 * page limit). `since` must come before `until`.
 */
export function selectionSchema<I extends z.ZodType, E extends z.ZodRawShape>(id: I, maxIds: number, extra: E) {
  return z
    .object({
      /** Exactly these message ids. */
      ids: z.array(id).min(1).max(maxIds).optional(),
      /** Message type, e.g. `orders.order-placed`. */
      type: z.string().min(1).max(255).optional(),
      /** Ordering key. */
      key: z.string().min(1).max(1024).optional(),
      /** Dead-lettered at or after this time. */
      since: date.optional(),
      /** Dead-lettered before this time. */
      until: date.optional(),
      /** Select every one (only meaningful without other criteria). */
      all: z.boolean().optional(),
      ...extra,
    })
    .strict()
    .refine(
      (f) => {
        const { since, until } = f as { since?: Date; until?: Date };
        return !(since && until) || since < until;
      },
      { error: '"since" must be before "until"' },
    );
}

/** True when the selection names at least one criterion besides `all`. */
export function hasCriteria(selection: {
  ids?: unknown;
  type?: unknown;
  key?: unknown;
  since?: unknown;
  until?: unknown;
}): boolean {
  return Boolean(selection.ids || selection.type || selection.key || selection.since || selection.until);
}

/**
 * Parses a selection (an array is taken as ids) under the option path `path`. One that changes
 * something (`mutation`) must name criteria or `all: true`: an empty filter never means "all".
 */
export function parseSelection<S extends z.ZodType>(
  schema: S,
  input: unknown,
  path: string,
  options: { mutation: boolean },
): z.output<S> {
  const selection = parseOptions(schema, Array.isArray(input) ? { ids: input } : input, path);
  const named = selection as { all?: boolean } & Parameters<typeof hasCriteria>[0];
  if (options.mutation && !hasCriteria(named) && named.all !== true) {
    throw new ConfigurationError(
      path,
      'select what to change: ids, a type, a key or a time range, or { all: true } for every one',
    );
  }
  return selection;
}
