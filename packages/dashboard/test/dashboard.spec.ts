// The dashboard's pure parts: routing, escaping and redaction, rates, token and origin checks,
// input validation, and the options' documented defaults.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dashboardOptionsSchema } from '../src/options/dashboard-options.js';
import { REDACTED, redactPaths, splitRedactions } from '../src/redaction/redact-paths.js';
import { ratesBetween } from '../src/sampling/rates.js';
import { RingBuffer } from '../src/sampling/ring-buffer.js';
import { noticeText } from '../src/server/notice.js';
import { matchRoute } from '../src/server/router.js';
import { isCrossSite, tokenMatches } from '../src/server/security.js';
import { groupParam, InputError, idsField, messageIdParam, offsetParam } from '../src/validation/inputs.js';
import { lineChart } from '../src/views/chart.js';
import { escapeHtml, html } from '../src/views/html.js';

const ID = '0190f0e8-7a6b-7c3d-9e1f-123456789abc';

describe('router', () => {
  it('maps pages to GET and actions to POST only', () => {
    expect(matchRoute('GET', '/')).toEqual({ route: { kind: 'overview' } });
    expect(matchRoute('GET', `/outbox/dead-letters/${ID}`)).toEqual({ route: { kind: 'outbox-show', id: ID } });
    expect(matchRoute('POST', '/outbox/dead-letters/requeue')).toEqual({
      route: { kind: 'outbox-action', action: 'requeue' },
    });
    expect(matchRoute('GET', '/outbox/dead-letters/requeue')).toEqual({ methodNotAllowed: 'POST' });
    expect(matchRoute('POST', '/')).toEqual({ methodNotAllowed: 'GET' });
    expect(matchRoute('POST', '/inbox/billing/dead-letters/replay')).toEqual({
      route: { kind: 'inbox-action', group: 'billing', action: 'replay' },
    });
    expect(matchRoute('GET', '/etc/passwd')).toEqual({ notFound: true });
    expect(matchRoute('GET', '/outbox/dead-letters/%E0%A4%A')).toEqual({ notFound: true });
  });
});

describe('escaping and redaction', () => {
  it('escapes every interpolated value and removes passwords from URLs in text', () => {
    const page = html`<p title="${'"><script>'}">${'<b>x</b>'} ${'postgres://u:hunter2@db/app'}</p>`.value;
    expect(page).toBe('<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;x&lt;/b&gt; postgres://u:***@db/app</p>');
    expect(escapeHtml('connect failed: amqp://guest:guest@rabbit:5672 refused')).toBe(
      'connect failed: amqp://guest:***@rabbit:5672 refused',
    );
    expect(escapeHtml('postgres://u:p@ss/w@db/app')).not.toContain('p@ss');
  });

  it('redacts configured payload paths, * matching any key or index, and headers', () => {
    const payload = { customer: { email: 'a@b.c', name: 'A' }, items: [{ card: '4111' }, { card: '5500' }] };
    expect(redactPaths(payload, ['customer.email', 'items.*.card', 'missing.path'])).toEqual({
      customer: { email: REDACTED, name: 'A' },
      items: [{ card: REDACTED }, { card: REDACTED }],
    });
    expect(payload.customer.email).toBe('a@b.c');
    expect(splitRedactions(['a.b', 'headers.authorization'])).toEqual({ payload: ['a.b'], headers: ['authorization'] });
  });
});

describe('rates', () => {
  const base = { at: 0, written: 100, pending: 10, deadLetters: 5, consumedRecords: 50 };
  it('derives published from written, the pending change and new dead letters', () => {
    const r = ratesBetween(base, { at: 2000, written: 120, pending: 14, deadLetters: 6, consumedRecords: 70 });
    expect(r).toEqual({ at: 2000, written: 10, published: 7.5, consumed: 10 });
  });
  it('counts neither a requeue nor a purge as published', () => {
    // requeue 3: three rows written, three dead letters fewer, pending up by three.
    expect(ratesBetween(base, { ...base, at: 1000, written: 103, pending: 13, deadLetters: 2 }).published).toBe(0);
    expect(ratesBetween(base, { ...base, at: 1000, deadLetters: 0 }).published).toBe(0);
  });
  it('has no consume rate while the inbox records are unknown', () => {
    expect(ratesBetween(base, { ...base, at: 1000, consumedRecords: null }).consumed).toBeNull();
  });
  it('keeps the newest samples in the ring buffer, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    for (const n of [1, 2, 3, 4, 5]) ring.push(n);
    expect(ring.toArray()).toEqual([3, 4, 5]);
  });
  it('draws a chart once two points exist', () => {
    const series = { label: 'pending', className: 'series-a', points: [{ at: 0, value: 1 }] };
    expect(lineChart('Backlog', 'messages', [series]).value).toContain('collecting samples');
    const two = { ...series, points: [...series.points, { at: 1000, value: 3 }] };
    expect(lineChart('Backlog', 'messages', [two]).value).toContain('<polyline');
  });
});

describe('security checks', () => {
  it('compares the token exactly, whatever the length', () => {
    expect(tokenMatches('a-long-test-token-0123', 'a-long-test-token-0123')).toBe(true);
    expect(tokenMatches('a-long-test-token-012', 'a-long-test-token-0123')).toBe(false);
    expect(tokenMatches(undefined, 'a-long-test-token-0123')).toBe(false);
    expect(tokenMatches('', 'a-long-test-token-0123')).toBe(false);
    expect(tokenMatches(['a-long-test-token-0123'], 'a-long-test-token-0123')).toBe(false);
  });
  it('refuses requests from other sites', () => {
    const req = (headers: Record<string, string>) => ({ headers: { host: 'localhost:4300', ...headers } }) as never;
    expect(isCrossSite(req({ 'sec-fetch-site': 'same-origin', origin: 'http://localhost:4300' }))).toBe(false);
    expect(isCrossSite(req({ 'sec-fetch-site': 'cross-site' }))).toBe(true);
    expect(isCrossSite(req({ 'sec-fetch-site': 'same-site' }))).toBe(true);
    expect(isCrossSite(req({ origin: 'http://evil.example' }))).toBe(true);
    expect(isCrossSite(req({ origin: 'null' }))).toBe(true);
    expect(isCrossSite(req({}))).toBe(false);
  });
  it('accepts only the fixed notice shapes', () => {
    expect(noticeText('requeued-2')).toBe('requeued 2 messages');
    expect(noticeText('<b>hacked-1')).toBeUndefined();
    expect(noticeText('deleted-everything-1')).toBeUndefined();
  });
});

describe('inputs', () => {
  it('takes UUIDs, configured groups and bounded numbers only', () => {
    expect(messageIdParam(ID.toUpperCase())).toBe(ID);
    expect(() => messageIdParam('1; DROP TABLE')).toThrow(InputError);
    expect(groupParam('billing', ['billing'])).toBe('billing');
    expect(() => groupParam('other', ['billing'])).toThrow(/not shown/);
    expect(() => groupParam('amq.x', ['amq.x'])).toThrow(/not valid/);
    expect(offsetParam('20')).toBe(20);
    expect(() => offsetParam('1e9')).toThrow(InputError);
    expect(() => idsField([], 10)).toThrow(/at least one/);
    expect(() => idsField(Array(11).fill(ID), 10)).toThrow(/at most 10/);
  });
});

describe('options', () => {
  it('every literal @defaultValue is the default the schema applies', () => {
    const source = readFileSync(new URL('../src/options/dashboard-options.ts', import.meta.url), 'utf8');
    const resolved = dashboardOptionsSchema.parse({ database: 'postgres://localhost/db' }) as Record<string, unknown>;
    const documented = [...source.matchAll(/@defaultValue `([^`]+)`[^\n]*\n(?:\s*\*\/\n)?\s*(\w+)\?:/g)];
    expect(documented.length).toBe(8);
    for (const [, value, name] of documented) {
      if ((value as string).includes('<')) continue; // derived (the slot name follows the schema)
      const expected = value === 'undefined' ? undefined : JSON.parse((value as string).replace(/'/g, '"'));
      expect(resolved[name as string], name).toEqual(expected);
    }
  });
  it('refuses a short action token', () => {
    expect(dashboardOptionsSchema.safeParse({ database: 'x', actions: { token: 'short' } }).success).toBe(false);
  });
});
