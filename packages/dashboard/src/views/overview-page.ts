// The page operators open first: the outbox backlog, the rate charts and the consumer groups.
import type { InboxGroupStatus } from '@txbox/inbox';
import type { RatePoint } from '../sampling/rates.js';
import type { Snapshot } from '../sampling/sampler.js';
import { lineChart } from './chart.js';
import { age, bytes, rate, time } from './format.js';
import { html, type SafeHtml } from './html.js';
import { layout, type PageContext } from './layout.js';

export interface OverviewData {
  snapshot: Snapshot;
  backlog: { at: number; pending: number; due: number }[];
  rates: RatePoint[];
  /** The last sampling error, shown so a broken connection is not mistaken for a quiet system. */
  samplingError: string | undefined;
}

function tile(label: string, value: string | number, testId: string, hint?: string): SafeHtml {
  return html`<div class="tile"><div class="value" data-testid="${testId}">${value}</div><div class="label">${label}</div>${
    hint ? html`<div class="muted">${hint}</div>` : ''
  }</div>`;
}

function groupRow(ctx: PageContext, g: InboxGroupStatus): SafeHtml {
  const retry = g.retryQueues.reduce((sum, q) => sum + q.messages, 0);
  const retryDetail = g.retryQueues.map((q) => `${q.name}: ${q.messages}`).join(', ');
  const path = `${ctx.base}/inbox/${encodeURIComponent(g.group)}/dead-letters`;
  // A partitioned group's figures add its partition queues up; the tooltip shows each.
  const partitionDetail = (g.partitions ?? [])
    .map((p) => `${p.name}: ${p.messages} (${p.consumers} consumers)`)
    .join(', ');
  return html`<tr data-testid="group-${g.group}">
  <td>${g.group}${g.partitions ? html` <span class="muted">(${g.partitions.length} partitions)</span>` : ''}</td>
  <td title="${partitionDetail}">${g.queue ? g.queue.messages : 'no queue'}</td>
  <td>${g.queue ? g.queue.consumers : '-'}</td>
  <td title="${retryDetail}">${retry}</td>
  <td>${g.deadLetterQueue ? html`<a href="${path}">${g.deadLetterQueue.messages}</a>` : 'no queue'}</td>
  <td>${g.records ?? '-'}</td>
</tr>`;
}

export function overviewPage(ctx: PageContext, data: OverviewData): SafeHtml {
  const s = data.snapshot.outbox;
  const last = data.rates.at(-1);
  const consumed = data.rates.filter((r) => r.consumed !== null);
  const body = html`<section aria-label="outbox" data-refresh>
  <h2>Outbox</h2>
  <div class="tiles">
    ${tile('pending', s.pending, 'outbox-pending', 'not yet published')}
    ${tile('due', s.due, 'outbox-due', 'waiting for a relay')}
    ${tile('leased', s.leased, 'outbox-leased', 'being published')}
    ${tile('oldest due', age(s.oldestDueAgeMs), 'outbox-oldest-due', 'relay lag')}
    ${tile('dead letters', s.deadLetters, 'outbox-dead-letters')}
    ${tile('published/s', rate(last?.published), 'publish-rate')}
    ${tile('consumed/s', rate(last?.consumed ?? undefined), 'consume-rate')}
    ${
      data.snapshot.slot
        ? tile(
            'WAL slot lag',
            bytes(data.snapshot.slot.lagBytes),
            'wal-slot-lag',
            `${data.snapshot.slot.name} · ${data.snapshot.slot.active ? 'streaming' : 'no relay streaming'}${data.snapshot.slot.walStatus ? ` · ${data.snapshot.slot.walStatus}` : ''}`,
          )
        : ''
    }
  </div>
  <p class="muted">read at ${time(new Date(data.snapshot.at))}${data.samplingError ? html` · <span class="error">sampling failed: ${data.samplingError}</span>` : ''}</p>
</section>
<section aria-label="charts" class="charts">
  ${lineChart('Backlog', 'messages', [
    { label: 'pending', className: 'series-a', points: data.backlog.map((b) => ({ at: b.at, value: b.pending })) },
    { label: 'due', className: 'series-b', points: data.backlog.map((b) => ({ at: b.at, value: b.due })) },
  ])}
  ${lineChart('Outbox rate', 'msg/s', [
    { label: 'published', className: 'series-a', points: data.rates.map((r) => ({ at: r.at, value: r.published })) },
    { label: 'written', className: 'series-b', points: data.rates.map((r) => ({ at: r.at, value: r.written })) },
  ])}
  ${lineChart('Consume rate (all groups shown)', 'msg/s', [
    { label: 'consumed', className: 'series-a', points: consumed.map((r) => ({ at: r.at, value: r.consumed ?? 0 })) },
  ])}
</section>
<section aria-label="consumer groups">
  <h2>Consumer groups</h2>
  ${
    data.snapshot.groups.length === 0
      ? html`<p class="muted">No groups shown: start the dashboard with the groups to watch (--groups, or the groups option) and an AMQP URL.</p>`
      : html`<table><thead><tr><th>group</th><th>queue</th><th>consumers</th><th>retrying</th><th>dead letters</th><th>inbox records</th></tr></thead>
<tbody>${data.snapshot.groups.map((g) => groupRow(ctx, g))}</tbody></table>`
  }
</section>`;
  return layout(ctx, 'Overview', body);
}
