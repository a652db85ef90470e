// What each route does: read through the admin API and render, or act through it and redirect.
import type { InboxAdmin } from '@txbox/inbox';
import type { OutboxAdmin } from '@txbox/outbox';
import type { ResolvedDashboardOptions } from '../options/dashboard-options.js';
import type { Sampler } from '../sampling/sampler.js';
import { groupParam, InputError, idsField, messageIdParam, offsetParam } from '../validation/inputs.js';
import { type DeadLetterSide, deadLetterDetailPage, deadLetterListPage } from '../views/dead-letter-pages.js';
import type { SafeHtml } from '../views/html.js';
import type { PageContext } from '../views/layout.js';
import { overviewPage } from '../views/overview-page.js';
import { inboxDeadLetterView, outboxDeadLetterView, type Redactions } from './dead-letter-views.js';
import type { FormFields } from './form-body.js';
import { type NoticeVerb, noticeParam, noticeText } from './notice.js';
import type { Route } from './router.js';

export interface Deps {
  options: ResolvedDashboardOptions;
  outbox: OutboxAdmin;
  inbox: InboxAdmin | undefined;
  sampler: Sampler;
  redactions: Redactions;
}

/** A page to send, a redirect after an action, or "nothing here" (404). */
export type Outcome = { page: SafeHtml } | { redirect: string } | { notFound: string };

/** The most ids one action names (a page's worth of checkboxes). */
const MAX_ACTION_IDS = 500;

function outboxSide(ctx: PageContext): DeadLetterSide {
  return {
    title: 'Outbox dead letters',
    listPath: `${ctx.base}/outbox/dead-letters`,
    buttons: [
      { name: 'requeue', label: 'Requeue' },
      { name: 'purge', label: 'Purge', danger: true },
    ],
  };
}

function inboxSide(ctx: PageContext, group: string): DeadLetterSide {
  return {
    title: `Dead letters of ${group}`,
    listPath: `${ctx.base}/inbox/${encodeURIComponent(group)}/dead-letters`,
    buttons: [
      { name: 'replay', label: `Replay to ${group}` },
      { name: 'purge', label: 'Purge', danger: true },
    ],
  };
}

function requireInbox(deps: Deps): InboxAdmin {
  if (!deps.inbox) throw new InputError('this dashboard was started without an AMQP URL: no consumer groups');
  return deps.inbox;
}

export async function renderPage(deps: Deps, ctx: PageContext, route: Route, query: URLSearchParams): Promise<Outcome> {
  const { options, outbox, sampler, redactions } = deps;
  const notice = noticeText(query.get('notice'));
  switch (route.kind) {
    case 'overview': {
      const snapshot = await sampler.current();
      const error = sampler.error;
      return {
        page: overviewPage(ctx, {
          snapshot,
          backlog: sampler.backlog(),
          rates: sampler.rates(),
          samplingError: error === undefined ? undefined : String((error as Error)?.message ?? error),
        }),
      };
    }
    case 'outbox-list': {
      const offset = offsetParam(query.get('offset'));
      const found = await outbox.deadLetters.list({ limit: options.pageSize + 1, offset });
      const rows = found.slice(0, options.pageSize).map((d) => outboxDeadLetterView(d, redactions));
      return {
        page: deadLetterListPage(ctx, outboxSide(ctx), {
          rows,
          offset,
          pageSize: options.pageSize,
          hasMore: found.length > options.pageSize,
          notice,
        }),
      };
    }
    case 'outbox-show': {
      const found = await outbox.deadLetters.show(messageIdParam(route.id));
      if (!found) return { notFound: 'No outbox dead letter with that id (requeued or purged meanwhile?).' };
      return { page: deadLetterDetailPage(ctx, outboxSide(ctx), outboxDeadLetterView(found, redactions)) };
    }
    case 'inbox-list': {
      const group = groupParam(route.group, options.groups);
      // A dead-letter queue cannot be paged by offset: the list shows the oldest page.
      const found = await requireInbox(deps).deadLetters.list(group, { limit: options.pageSize + 1 });
      return {
        page: deadLetterListPage(ctx, inboxSide(ctx, group), {
          rows: found.slice(0, options.pageSize).map((d) => inboxDeadLetterView(d, redactions)),
          offset: 0,
          pageSize: options.pageSize,
          hasMore: false,
          notice,
        }),
      };
    }
    case 'inbox-show': {
      const group = groupParam(route.group, options.groups);
      const found = await requireInbox(deps).deadLetters.show(group, messageIdParam(route.id));
      if (!found)
        return { notFound: `No dead-lettered message with that id in ${group} (replayed or purged meanwhile?).` };
      return { page: deadLetterDetailPage(ctx, inboxSide(ctx, group), inboxDeadLetterView(found, redactions)) };
    }
    default:
      return { notFound: 'Not found.' };
  }
}

function back(listPath: string, verb: NoticeVerb, count: number): Outcome {
  return { redirect: `${listPath}?notice=${noticeParam(verb, count)}` };
}

/** Runs an action (the token was already checked) on the ids of the form. */
export async function runAction(deps: Deps, ctx: PageContext, route: Route, form: FormFields): Promise<Outcome> {
  const ids = idsField(form.get('id') ?? [], MAX_ACTION_IDS);
  if (route.kind === 'outbox-action') {
    const side = outboxSide(ctx);
    if (route.action === 'requeue')
      return back(side.listPath, 'requeued', (await deps.outbox.deadLetters.requeue({ ids })).length);
    return back(side.listPath, 'purged', await deps.outbox.deadLetters.purge({ ids }));
  }
  if (route.kind === 'inbox-action') {
    const group = groupParam(route.group, deps.options.groups);
    const side = inboxSide(ctx, group);
    const inbox = requireInbox(deps);
    if (route.action === 'purge') return back(side.listPath, 'purged', await inbox.deadLetters.purge(group, { ids }));
    const result = await inbox.deadLetters.replay(group, { ids });
    return result.failed.length > 0
      ? back(side.listPath, 'not-replayed', result.failed.length)
      : back(side.listPath, 'replayed', result.replayed.length);
  }
  return { notFound: 'Not found.' };
}
