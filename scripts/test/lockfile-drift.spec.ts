import { describe, expect, it } from 'vitest';
import { compareLockfiles, isForeignOptional, type Lockfile } from '../lockfile-drift.mjs';

const linux = { platform: 'linux', arch: 'x64', libc: 'glibc' };

function lockfile(packages: Lockfile['packages']): Lockfile {
  return {
    name: 'app',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'app', devDependencies: { tool: '^1.0.0' } }, ...packages },
  };
}

const tool = { version: '1.0.0', integrity: 'sha512-tool', optionalDependencies: { 'tool-darwin-arm64': '1.0.0' } };
const darwinBinary = { version: '1.0.0', integrity: 'sha512-darwin', optional: true, os: ['darwin'], cpu: ['arm64'] };
const linuxBinary = { version: '1.0.0', integrity: 'sha512-linux', optional: true, os: ['linux'], cpu: ['x64'] };

describe('compareLockfiles', () => {
  it('tolerates an optional binary for another platform that the registry now serves', () => {
    const locked = lockfile({ 'node_modules/tool': tool });
    const resolved = lockfile({ 'node_modules/tool': tool, 'node_modules/tool-darwin-arm64': darwinBinary });
    expect(compareLockfiles(locked, resolved, linux)).toEqual({
      tolerated: [{ path: 'node_modules/tool-darwin-arm64', change: 'added', resolved: '1.0.0' }],
      drift: [],
    });
  });

  it('tolerates an optional binary for another platform that the registry no longer serves', () => {
    const locked = lockfile({ 'node_modules/tool': tool, 'node_modules/tool-darwin-arm64': darwinBinary });
    const resolved = lockfile({ 'node_modules/tool': tool });
    const { tolerated, drift } = compareLockfiles(locked, resolved, linux);
    expect(drift).toEqual([]);
    expect(tolerated).toEqual([{ path: 'node_modules/tool-darwin-arm64', change: 'removed', locked: '1.0.0' }]);
  });

  it('reports an optional binary this platform would install as drift', () => {
    const locked = lockfile({ 'node_modules/tool': tool });
    const resolved = lockfile({ 'node_modules/tool': tool, 'node_modules/tool-linux-x64': linuxBinary });
    expect(compareLockfiles(locked, resolved, linux).drift).toEqual([
      { path: 'node_modules/tool-linux-x64', change: 'added', resolved: '1.0.0' },
    ]);
  });

  it('reports a changed version, integrity or dependency range of a real package as drift', () => {
    const locked = lockfile({ 'node_modules/tool': tool });
    expect(
      compareLockfiles(locked, lockfile({ 'node_modules/tool': { ...tool, version: '1.0.1' } }), linux).drift,
    ).toEqual([{ path: 'node_modules/tool', change: 'changed', locked: '1.0.0', resolved: '1.0.1' }]);
    expect(
      compareLockfiles(locked, lockfile({ 'node_modules/tool': { ...tool, integrity: 'sha512-other' } }), linux).drift,
    ).toHaveLength(1);
  });

  it('reports a package added to or removed from the manifests as drift', () => {
    const locked = lockfile({ 'node_modules/tool': tool });
    const resolved = lockfile({ 'node_modules/tool': tool, 'node_modules/left-pad': { version: '1.3.0' } });
    expect(compareLockfiles(locked, resolved, linux).drift).toEqual([
      { path: 'node_modules/left-pad', change: 'added', resolved: '1.3.0' },
    ]);
    expect(compareLockfiles(resolved, locked, linux).drift).toEqual([
      { path: 'node_modules/left-pad', change: 'removed', locked: '1.3.0' },
    ]);
  });

  it('ignores the order of keys, which npm does not keep stable', () => {
    const reordered = Object.fromEntries(Object.entries(tool).reverse());
    expect(
      compareLockfiles(lockfile({ 'node_modules/tool': tool }), lockfile({ 'node_modules/tool': reordered }), linux),
    ).toEqual({ tolerated: [], drift: [] });
  });
});

describe('isForeignOptional', () => {
  it.each([
    ['another os', { optional: true, os: ['win32'] }, true],
    ['another cpu', { optional: true, os: ['linux'], cpu: ['arm64'] }, true],
    ['another libc', { optional: true, os: ['linux'], cpu: ['x64'], libc: ['musl'] }, true],
    ['an excluded os', { optional: true, os: ['!linux'] }, true],
    ['this platform', { optional: true, os: ['linux'], cpu: ['x64'], libc: ['glibc'] }, false],
    ['no platform fields (an optional dependency like any other)', { optional: true }, false],
    ['a required platform package', { os: ['darwin'] }, false],
    ['os "any"', { optional: true, os: ['any'] }, false],
    ['os as a plain string of another platform', { optional: true, os: 'darwin' }, true],
    ['os as a plain string of this platform', { optional: true, os: 'linux' }, false],
    ['only exclusions, none of them this platform', { optional: true, os: ['!win32', '!darwin'] }, false],
  ])('%s → %s', (_what, entry, foreign) => {
    expect(isForeignOptional(entry, linux)).toBe(foreign);
  });
});
