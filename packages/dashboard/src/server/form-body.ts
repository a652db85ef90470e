// The body of an action: a urlencoded form (the page's buttons) or JSON (scripts), at most 64 KiB.
// A framework that parsed it already (Express's urlencoded/json, Nest) leaves it on req.body.
import type { IncomingMessage } from 'node:http';
import { InputError } from '../validation/inputs.js';

const MAX_BODY_BYTES = 64 * 1024;

/** Field name → values (a repeated field, like `id`, keeps every value). */
export type FormFields = Map<string, string[]>;

export async function readForm(req: IncomingMessage & { body?: unknown }): Promise<FormFields> {
  if (req.body !== undefined && req.body !== null && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    return fromObject(req.body as Record<string, unknown>);
  }
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  const text = typeof req.body === 'string' ? req.body : await readText(req);
  if (type === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(text || '{}');
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return fromObject(parsed as Record<string, unknown>);
    } catch {
      throw new InputError('the body must be a JSON object');
    }
  }
  if (type === 'application/x-www-form-urlencoded' || (type === '' && text === '')) {
    const fields: FormFields = new Map();
    for (const [name, value] of new URLSearchParams(text)) fields.set(name, [...(fields.get(name) ?? []), value]);
    return fields;
  }
  throw new InputError('send the action as a form (application/x-www-form-urlencoded) or as JSON');
}

function fromObject(body: Record<string, unknown>): FormFields {
  const fields: FormFields = new Map();
  for (const [name, value] of Object.entries(body)) {
    const values = Array.isArray(value) ? value : [value];
    if (!values.every((v) => typeof v === 'string')) throw new InputError(`field ${name} must be text`);
    fields.set(name, values as string[]);
  }
  return fields;
}

async function readText(req: IncomingMessage): Promise<string> {
  if (req.readableEnded) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new InputError('the request body is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
