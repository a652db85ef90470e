// What keeps the dashboard safe to expose on an operator's machine: strict response headers, a
// token compared in constant time, and a refusal of cross-site requests before any action runs.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Nothing but the dashboard's own stylesheet, script and forms; never framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // same-origin: our own POSTs keep their Origin header; other sites never see a dashboard URL.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/**
 * Whether `given` is the action token. Both sides are hashed first so the comparison takes the
 * same time whatever the lengths, and timingSafeEqual does not leak where they differ.
 */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether a POST comes from a page of another site. The token already makes a forged request
 * fail; this refuses it before the body is read. Browsers send Sec-Fetch-Site (trusted when
 * present) and Origin; a script (curl) sends neither and is judged by the token alone.
 */
export function isCrossSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    // "null" (a sandboxed frame, a file) or garbage: not this dashboard's page.
    return true;
  }
}
