// Which page or action a request names: a pure function of the method and the path below the
// mount point, unit-tested without a server.

export type Route =
  | { kind: 'overview' }
  | { kind: 'asset'; name: 'dashboard.css' | 'dashboard.js' }
  | { kind: 'outbox-list' }
  | { kind: 'outbox-show'; id: string }
  | { kind: 'outbox-action'; action: 'requeue' | 'purge' }
  | { kind: 'inbox-list'; group: string }
  | { kind: 'inbox-show'; group: string; id: string }
  | { kind: 'inbox-action'; group: string; action: 'replay' | 'purge' };

export type Match = { route: Route } | { notFound: true } | { methodNotAllowed: 'GET' | 'POST' };

function page(method: string, route: Route): Match {
  return method === 'GET' || method === 'HEAD' ? { route } : { methodNotAllowed: 'GET' };
}

function action(method: string, route: Route): Match {
  // Actions are POST only: a link, an image or a prefetch can never change anything.
  return method === 'POST' ? { route } : { methodNotAllowed: 'POST' };
}

export function matchRoute(method: string, pathname: string): Match {
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { notFound: true };
  }
  const [a, b, c, d, ...rest] = parts;
  if (rest.length > 0) return { notFound: true };
  if (a === undefined) return page(method, { kind: 'overview' });
  if (a === 'assets' && (b === 'dashboard.css' || b === 'dashboard.js') && c === undefined)
    return page(method, { kind: 'asset', name: b });
  if (a === 'outbox' && b === 'dead-letters' && d === undefined) {
    if (c === undefined) return page(method, { kind: 'outbox-list' });
    if (c === 'requeue' || c === 'purge') return action(method, { kind: 'outbox-action', action: c });
    return page(method, { kind: 'outbox-show', id: c });
  }
  if (a === 'inbox' && b !== undefined && c === 'dead-letters') {
    if (d === undefined) return page(method, { kind: 'inbox-list', group: b });
    if (d === 'replay' || d === 'purge') return action(method, { kind: 'inbox-action', group: b, action: d });
    return page(method, { kind: 'inbox-show', group: b, id: d });
  }
  return { notFound: true };
}
