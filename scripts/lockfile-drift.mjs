// @ts-check
// Compares a committed package-lock.json with the one npm resolves today against the registry, and
// sorts every difference into one of two kinds:
// - tolerated: an optional package that cannot be installed on this machine (another os, cpu or
//   libc) appeared or disappeared. Registries add and drop such platform binaries over time (a
//   lockfile written when `@biomejs/cli-darwin-arm64` was not served lacks it, and `npm ci` then
//   refuses the lockfile). None of them is ever installed here, so none changes what runs.
// - drift: anything else (a version, an integrity hash, a dependency range, an optional package
//   this platform would install). That is a lockfile out of step with the manifests, and installing
//   anyway would run code nobody reviewed.

/**
 * @typedef {{ version?: string, optional?: boolean, os?: string | string[], cpu?: string | string[], libc?: string | string[], [field: string]: unknown }} LockEntry
 * @typedef {{ lockfileVersion?: number, packages?: Record<string, LockEntry>, [field: string]: unknown }} Lockfile
 * @typedef {{ platform: string, arch: string, libc: string | undefined }} Platform
 * @typedef {{ path: string, change: 'added' | 'removed' | 'changed', locked?: string, resolved?: string }} Difference
 */

/** The machine this process runs on, in the terms npm's `os`, `cpu` and `libc` fields use. */
export function currentPlatform() {
  const report = /** @type {{ header?: { glibcVersionRuntime?: string } }} */ (process.report?.getReport() ?? {});
  const libc = process.platform === 'linux' ? (report.header?.glibcVersionRuntime ? 'glibc' : 'musl') : undefined;
  return { platform: process.platform, arch: process.arch, libc };
}

/**
 * npm's rule for `os`/`cpu`/`libc` (npm-install-checks' checkList): a string or a list, `any`
 * admits everything, `!x` excludes x, plain names admit only themselves.
 * @param {string | string[] | undefined} allowed
 * @param {string | undefined} value
 */
function admits(allowed, value) {
  if (allowed === undefined || allowed === 'any' || value === undefined) return true;
  const list = typeof allowed === 'string' ? [allowed] : allowed;
  if (list.length === 0 || (list.length === 1 && list[0] === 'any')) return true;
  let negated = 0;
  let match = false;
  for (const entry of list) {
    if (entry.startsWith('!')) {
      negated += 1;
      if (entry.slice(1) === value) return false;
    } else if (entry === value) {
      match = true;
    }
  }
  return match || negated === list.length;
}

/**
 * True for an optional package that npm would skip on this platform.
 * @param {LockEntry | undefined} entry
 * @param {Platform} platform
 */
export function isForeignOptional(entry, platform) {
  if (!entry?.optional) return false;
  return !(
    admits(entry.os, platform.platform) &&
    admits(entry.cpu, platform.arch) &&
    admits(entry.libc, platform.libc)
  );
}

/** @param {unknown} value */
function canonical(value) {
  return JSON.stringify(value, (_key, inner) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/**
 * @param {Lockfile} locked the committed lockfile
 * @param {Lockfile} resolved the lockfile npm resolves from the same manifests today
 * @param {Platform} [platform]
 * @returns {{ tolerated: Difference[], drift: Difference[] }}
 */
export function compareLockfiles(locked, resolved, platform = currentPlatform()) {
  /** @type {Difference[]} */
  const tolerated = [];
  /** @type {Difference[]} */
  const drift = [];
  const { packages: lockedPackages = {}, ...lockedTop } = locked;
  const { packages: resolvedPackages = {}, ...resolvedTop } = resolved;
  if (canonical(lockedTop) !== canonical(resolvedTop)) drift.push({ path: '(lockfile header)', change: 'changed' });

  const paths = [...new Set([...Object.keys(lockedPackages), ...Object.keys(resolvedPackages)])].sort();
  for (const path of paths) {
    const before = lockedPackages[path];
    const after = resolvedPackages[path];
    if (before && after) {
      // A package's own optionalDependencies come from its manifest, not from what the registry
      // serves, so they stay equal when only platform binaries come and go.
      if (canonical(before) !== canonical(after))
        drift.push({ path, change: 'changed', locked: before.version, resolved: after.version });
      continue;
    }
    const entry = before ?? after;
    /** @type {Difference} */
    const difference = before
      ? { path, change: 'removed', locked: before.version }
      : { path, change: 'added', resolved: after?.version };
    (isForeignOptional(entry, platform) ? tolerated : drift).push(difference);
  }
  return { tolerated, drift };
}

/** @param {Difference} difference */
export function describe(difference) {
  const { path, change, locked, resolved } = difference;
  if (change === 'added') return `${path}: not in the lockfile, resolves to ${resolved ?? '?'}`;
  if (change === 'removed') return `${path}: locked at ${locked ?? '?'}, no longer resolved`;
  return `${path}: locked ${locked ?? '?'}, resolves to ${resolved ?? '?'}`;
}
