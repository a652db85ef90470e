import type { z } from 'zod';
import { ConfigurationError } from '../errors/txbox-error.js';

/**
 * Parses user options once, at the boundary, into the resolved type internals rely on.
 * The first problem becomes a {@link ConfigurationError} naming the option path.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, prefix: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  throw new ConfigurationError(path || prefix, issue?.message ?? 'invalid value', { cause: result.error });
}
