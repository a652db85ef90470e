// Payload fields an operator must not see (card numbers, emails), replaced before rendering.
// Paths are dotted keys; `*` matches any one key or array index.

export const REDACTED = '[redacted]';

/** A copy of `value` with every field at one of `paths` replaced by {@link REDACTED}. */
export function redactPaths(value: unknown, paths: readonly string[]): unknown {
  let out = value;
  for (const path of paths) out = redactOne(out, path.split('.'));
  return out;
}

function redactOne(value: unknown, keys: readonly string[]): unknown {
  const [key, ...rest] = keys;
  if (key === undefined || value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...value };
  const entries = Object.keys(copy);
  for (const name of key === '*' ? entries : entries.filter((k) => k === key)) {
    const target = copy as Record<string, unknown>;
    target[name] = rest.length === 0 ? REDACTED : redactOne(target[name], rest);
  }
  return copy;
}

/** Splits the configured paths into payload paths and header names (`headers.<name>`). */
export function splitRedactions(paths: readonly string[]): { payload: string[]; headers: string[] } {
  const payload: string[] = [];
  const headers: string[] = [];
  for (const path of paths) {
    if (path.startsWith('headers.')) headers.push(path.slice('headers.'.length));
    else payload.push(path);
  }
  return { payload, headers };
}
