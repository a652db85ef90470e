// The dashboard as one Node request handler, `(req, res, next?) => void`: Express, Fastify (via
// middie's `fastify.use`), Nest (`app.use`) and a bare `http.createServer` all mount it. Every
// request is authorized first; pages are GET, actions POST with the token; every answer carries
// the strict security headers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTxboxError, redactUrl } from '@txbox/core';
import { createInboxAdmin, type InboxAdmin } from '@txbox/inbox';
import { createOutboxAdmin } from '@txbox/outbox';
import { type DashboardOptions, parseDashboardOptions } from '../options/dashboard-options.js';
import { splitRedactions } from '../redaction/redact-paths.js';
import { Sampler } from '../sampling/sampler.js';
import { InputError } from '../validation/inputs.js';
import { SCRIPT, STYLESHEET } from '../views/assets.js';
import { errorPage } from '../views/error-page.js';
import type { PageContext } from '../views/layout.js';
import { readForm } from './form-body.js';
import { matchRoute } from './router.js';
import { type Deps, type Outcome, renderPage, runAction } from './routes.js';
import { isCrossSite, setSecurityHeaders, tokenMatches } from './security.js';

/** A request as frameworks hand it on: Express and middie add `originalUrl` (and maybe a parsed `body`). */
export type DashboardRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

export interface DashboardHandler {
  (req: DashboardRequest, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Stops sampling and closes the connections the dashboard opened from URLs. Idempotent. */
  close(): Promise<void>;
  /** Takes one stats sample now (the timer takes them every `sampleIntervalMs`). */
  sample(): Promise<unknown>;
}

/** The path the handler is mounted at: what the framework stripped from the front of the URL. */
function mountBase(req: DashboardRequest): string {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const original = (req.originalUrl ?? req.url ?? '/').split('?')[0] ?? '/';
  // Express turns `/txbox` (no slash) into url `/`: the whole original path is then the mount point.
  const base = original.endsWith(path)
    ? original.slice(0, original.length - path.length)
    : path === '/'
      ? original
      : '';
  return base.replace(/\/+$/, '');
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Creates the dashboard handler; it starts sampling the stats at once. */
export function createDashboard(input: DashboardOptions): DashboardHandler {
  const options = parseDashboardOptions(input);
  const outbox = createOutboxAdmin({
    database: options.database,
    schema: options.schema,
    ...(options.slot === undefined ? {} : { slot: options.slot }),
  });
  const inbox: InboxAdmin | undefined =
    options.amqp === undefined
      ? undefined
      : createInboxAdmin({ database: options.database, amqp: options.amqp, schema: options.schema });
  const sampler = new Sampler({ outbox, inbox, groups: options.groups }, options.samples);
  const deps: Deps = { options, outbox, inbox, sampler, redactions: splitRedactions(options.redact) };
  const target = describeTarget(options.database, options.amqp);
  sampler.start(options.sampleIntervalMs);

  async function handle(req: DashboardRequest, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
    const ctx: PageContext = { base: mountBase(req), target, actions: options.actions !== undefined };
    const fail = (status: number, message: string) =>
      send(req, res, status, 'text/html; charset=utf-8', errorPage(ctx, status, message).value);
    setSecurityHeaders(res);
    try {
      if (options.authorize && !(await options.authorize(req))) return fail(403, 'Not authorized.');
      const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
      const match = matchRoute(req.method ?? 'GET', url.pathname);
      if ('notFound' in match) {
        // Mounted at the application's root, the dashboard lets the application's own routes answer.
        if (next) return next();
        return fail(404, 'Not found.');
      }
      if ('methodNotAllowed' in match) {
        res.setHeader('Allow', match.methodNotAllowed === 'GET' ? 'GET, HEAD' : 'POST');
        return fail(405, `Use ${match.methodNotAllowed} here.`);
      }
      const { route } = match;
      if (route.kind === 'asset') {
        return route.name === 'dashboard.css'
          ? send(req, res, 200, 'text/css; charset=utf-8', STYLESHEET)
          : send(req, res, 200, 'text/javascript; charset=utf-8', SCRIPT);
      }
      let outcome: Outcome;
      if (route.kind === 'outbox-action' || route.kind === 'inbox-action') {
        if (!options.actions) return fail(403, 'This dashboard is read-only: start it with actions and a token.');
        if (isCrossSite(req)) return fail(403, 'Cross-site requests cannot act.');
        const form = await readForm(req);
        const token = req.headers['x-txbox-token'] ?? form.get('token')?.[0];
        if (!tokenMatches(token, options.actions.token)) return fail(403, 'The action token is missing or wrong.');
        outcome = await runAction(deps, ctx, route, form);
      } else {
        outcome = await renderPage(deps, ctx, route, url.searchParams);
      }
      if ('redirect' in outcome) {
        res.statusCode = 303;
        res.setHeader('Location', outcome.redirect);
        res.end();
      } else if ('notFound' in outcome) {
        fail(404, outcome.notFound);
      } else {
        send(req, res, 200, 'text/html; charset=utf-8', outcome.page.value);
      }
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof InputError) return fail(400, error.message);
      if (isTxboxError(error) && (error.code === 'CONFIGURATION_INVALID' || error.code === 'IDENTIFIER_INVALID'))
        return fail(400, error.message);
      if (isTxboxError(error) && error.code === 'NOT_FOUND') return fail(404, error.message);
      fail(500, `The dashboard could not read this: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  let closing: Promise<void> | undefined;
  const handler = ((req, res, next) => {
    void handle(req, res, next);
  }) as DashboardHandler;
  handler.close = () => {
    closing ??= (async () => {
      await sampler.stop();
      await Promise.all([outbox.close(), inbox?.close()]);
    })();
    return closing;
  };
  handler.sample = () => sampler.sample();
  return handler;
}

/** What the header shows the dashboard is looking at; URLs only, redacted (objects are named by kind). */
function describeTarget(database: unknown, amqp: unknown): string {
  const db = typeof database === 'string' ? redactUrl(database) : 'a pg.Pool';
  const broker = amqp === undefined ? 'no broker' : typeof amqp === 'string' ? redactUrl(amqp) : 'an AMQP connection';
  return `${db} · ${broker}`;
}
