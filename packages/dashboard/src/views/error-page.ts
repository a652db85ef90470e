import { html, type SafeHtml } from './html.js';
import { layout, type PageContext } from './layout.js';

export function errorPage(ctx: PageContext, status: number, message: string): SafeHtml {
  const title = status === 400 ? 'Bad request' : status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : 'Error';
  return layout(
    ctx,
    title,
    html`<p class="error" data-testid="error">${message}</p><p><a href="${ctx.base}/">Back to the overview</a></p>`,
  );
}
