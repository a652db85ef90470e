// Dead letters of either side, listed and shown one at a time. Both sides map onto one view
// model (server/dead-letter-views.ts), so the outbox's requeue and a group's replay look alike.
import { age, json, time } from './format.js';
import { html, type SafeHtml } from './html.js';
import { layout, type PageContext } from './layout.js';

export interface DeadLetterRow {
  id: string | null;
  type: string | null;
  key: string | null;
  deadLetteredAt: Date | null;
  reason: string | null;
  attempts: number;
  error: string | null;
}

export interface DeadLetterDetail extends DeadLetterRow {
  payload: unknown;
  headers: Record<string, string>;
  attemptHistory: unknown[];
  /** Side-specific facts (exchange, routing key, group…). */
  facts: [string, string | null][];
}

/** A button of the action form: posts the selected ids to `<listPath>/<name>`. */
export interface ActionButton {
  name: 'requeue' | 'replay' | 'purge';
  label: string;
  danger?: boolean;
}

export interface DeadLetterSide {
  title: string;
  /** Path of the list page; actions post to `<listPath>/<action>`, details are `<listPath>/<id>`. */
  listPath: string;
  buttons: ActionButton[];
}

function actionBar(ctx: PageContext, side: DeadLetterSide): SafeHtml {
  if (!ctx.actions) return html``;
  return html`<div class="actions">
  <label>Action token <input type="password" name="token" autocomplete="off" required data-testid="token"></label>
  ${side.buttons.map(
    (b) =>
      html`<button type="submit" formaction="${side.listPath}/${b.name}" class="${b.danger ? 'danger' : ''}" data-testid="action-${b.name}"${b.danger ? html` data-confirm="Delete the selected dead letters for good?"` : ''}>${b.label}</button>`,
  )}
</div>`;
}

function noticeLine(notice: string | undefined): SafeHtml {
  return notice ? html`<p class="notice" data-testid="notice">${notice}</p>` : html``;
}

export function deadLetterListPage(
  ctx: PageContext,
  side: DeadLetterSide,
  page: { rows: DeadLetterRow[]; offset: number; pageSize: number; hasMore: boolean; notice?: string | undefined },
): SafeHtml {
  const rows = page.rows.map(
    (d) => html`<tr data-testid="dead-letter-row">
  ${ctx.actions ? html`<td>${d.id ? html`<input type="checkbox" name="id" value="${d.id}" aria-label="select ${d.id}">` : ''}</td>` : ''}
  <td class="mono">${d.id ? html`<a href="${side.listPath}/${d.id}">${d.id}</a>` : '(no id)'}</td>
  <td>${d.type ?? '-'}</td>
  <td>${d.key ?? '-'}</td>
  <td>${time(d.deadLetteredAt)}${d.deadLetteredAt ? html` <span class="muted">(${age(Date.now() - d.deadLetteredAt.getTime())} ago)</span>` : ''}</td>
  <td>${d.reason ?? '-'}</td>
  <td>${d.attempts}</td>
  <td class="clip">${(d.error ?? '').slice(0, 200)}</td>
</tr>`,
  );
  const pager = html`<p class="pager">${
    page.offset > 0
      ? html`<a href="${side.listPath}?offset=${Math.max(0, page.offset - page.pageSize)}">previous</a> `
      : ''
  }${page.hasMore ? html`<a href="${side.listPath}?offset=${page.offset + page.pageSize}">next</a>` : ''}</p>`;
  const table =
    page.rows.length === 0
      ? html`<p class="muted" data-testid="empty">No dead letters.</p>`
      : html`<form method="post" class="selection">
<table><thead><tr>${ctx.actions ? html`<th><input type="checkbox" data-select-all aria-label="select all"></th>` : ''}<th>id</th><th>type</th><th>key</th><th>dead-lettered</th><th>reason</th><th>attempts</th><th>last error</th></tr></thead>
<tbody>${rows}</tbody></table>
${actionBar(ctx, side)}
</form>`;
  return layout(ctx, side.title, html`${noticeLine(page.notice)}${table}${pager}`);
}

export function deadLetterDetailPage(ctx: PageContext, side: DeadLetterSide, d: DeadLetterDetail): SafeHtml {
  const facts: [string, string | null][] = [
    ['id', d.id],
    ['type', d.type],
    ['ordering key', d.key],
    ['reason', d.reason],
    ['attempts', String(d.attempts)],
    ['dead-lettered', time(d.deadLetteredAt)],
    ...d.facts,
    ['last error', d.error],
  ];
  const headers = Object.entries(d.headers);
  const body = html`<p><a href="${side.listPath}">← ${side.title}</a></p>
<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v ?? '-'}</dd>`)}</dl>
<h2>Payload</h2>
<pre data-testid="payload">${json(d.payload)}</pre>
<h2>Headers</h2>
${
  headers.length === 0
    ? html`<p class="muted">none</p>`
    : html`<table data-testid="headers"><tbody>${headers.map(([k, v]) => html`<tr><th>${k}</th><td class="mono">${v}</td></tr>`)}</tbody></table>`
}
<h2>Attempt history</h2>
<pre data-testid="history">${json(d.attemptHistory)}</pre>
${
  ctx.actions && d.id
    ? html`<form method="post" class="selection"><input type="hidden" name="id" value="${d.id}">${actionBar(ctx, side)}</form>`
    : ''
}`;
  return layout(ctx, `${side.title}: ${d.id ?? '(no id)'}`, body);
}
