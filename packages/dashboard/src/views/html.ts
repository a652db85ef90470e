// HTML built by one tagged template: every interpolated value is escaped, and every text passes
// through core's redactUrl first, so neither markup from a payload nor a password in a URL (an
// error quoting a connection string, a configured database URL) can reach the page.
import { redactUrl } from '@txbox/core';
import { redactText } from '@txbox/core/internal';

/** Markup that is already safe (built by {@link html}); anything else interpolated is escaped. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  // A lone URL is parsed (a password with '@' or '/' in it is still found); longer text is
  // scanned for URLs in place, so a sentence is never re-serialized as if it were one URL.
  const safe = /\s/.test(text) ? redactText(text) : redactUrl(text);
  return safe.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}
