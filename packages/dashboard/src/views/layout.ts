// The frame of every page: title, navigation, where the dashboard looks (URLs redacted), and the
// stylesheet and script served by the dashboard itself (the CSP allows nothing else).
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  /** The path the dashboard is mounted at, without a trailing slash ('' at the root). */
  base: string;
  /** Shown in the header; passed through redactUrl by the template. */
  target: string;
  actions: boolean;
}

export function layout(ctx: PageContext, title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · txbox</title>
<link rel="stylesheet" href="${ctx.base}/assets/dashboard.css">
<script src="${ctx.base}/assets/dashboard.js" defer></script>
</head>
<body>
<header>
  <a class="brand" href="${ctx.base}/">txbox</a>
  <nav><a href="${ctx.base}/">Overview</a> <a href="${ctx.base}/outbox/dead-letters">Outbox dead letters</a></nav>
  <span class="target" data-testid="target">${ctx.target}</span>
  <span class="mode">${ctx.actions ? 'actions enabled (token required)' : 'read-only'}</span>
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}
