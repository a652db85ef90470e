// The line an action leaves on the page it redirects to (post/redirect/get: a reload never posts
// again). Only these fixed shapes are accepted back from the query string, so a crafted link
// cannot put words on the page.

const VERBS = ['requeued', 'replayed', 'purged', 'not-replayed'] as const;
export type NoticeVerb = (typeof VERBS)[number];

export function noticeParam(verb: NoticeVerb, count: number): string {
  return `${verb}-${count}`;
}

export function noticeText(param: string | null): string | undefined {
  const match = /^([a-z-]+)-(\d{1,6})$/.exec(param ?? '');
  if (!match || !(VERBS as readonly string[]).includes(match[1] as string)) return undefined;
  const n = Number(match[2]);
  const what = `${n} ${n === 1 ? 'message' : 'messages'}`;
  return match[1] === 'not-replayed' ? `${what} could not be replayed (still dead-lettered)` : `${match[1]} ${what}`;
}
