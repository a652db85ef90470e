import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The install step of .ci/run, run for real against the registry on a copy of this repository's
// manifests and lockfile, each time with the lockfile altered the way a registry or a careless
// commit alters it.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(root, 'scripts/install-locked.mjs');
const workdirs: string[] = [];

function workspaceManifests(): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { link?: boolean }>;
  };
  // The lockfile names every workspace folder (the entries that are not under node_modules/).
  const folders = Object.keys(lock.packages).filter((path) => path !== '' && !path.includes('node_modules/'));
  expect(folders.length).toBeGreaterThanOrEqual(workspaces.length);
  return folders.map((folder) => join(folder, 'package.json'));
}

function copyOfRepository(alterLock: (lock: { packages: Record<string, Record<string, unknown>> }) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'txbox-install-'));
  workdirs.push(dir);
  for (const manifest of ['package.json', ...workspaceManifests()]) {
    mkdirSync(dirname(join(dir, manifest)), { recursive: true });
    cpSync(join(root, manifest), join(dir, manifest));
  }
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  alterLock(lock);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  return dir;
}

function resolveOnly(dir: string) {
  const result = spawnSync(process.execPath, [script, '--resolve-only', '--cwd', dir], {
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

afterAll(() => {
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
});

describe('install from the lockfile (.ci/run)', () => {
  it('accepts the committed lockfile as complete', () => {
    const dir = copyOfRepository(() => {});
    const { status, output } = resolveOnly(dir);
    expect(output).toContain('package-lock.json is complete and up to date');
    expect(status).toBe(0);
  });

  it('tolerates an optional binary for another platform missing from the lockfile (the registry started serving it)', () => {
    const foreign = 'node_modules/@biomejs/cli-darwin-arm64';
    const dir = copyOfRepository((lock) => {
      expect(lock.packages[foreign]).toBeDefined();
      delete lock.packages[foreign];
    });
    const { status, output } = resolveOnly(dir);
    expect(output).toContain(`${foreign}: not in the lockfile`);
    expect(status).toBe(0);
    const installedFrom = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
    expect(installedFrom.packages[foreign]).toBeDefined();
  });

  it('tolerates an optional binary for another platform that the registry no longer resolves', () => {
    const dir = copyOfRepository((lock) => {
      lock.packages['node_modules/@biomejs/cli-plan9-mips'] = {
        version: '0.0.0-gone',
        optional: true,
        os: ['plan9'],
        cpu: ['mips'],
      };
    });
    const { status, output } = resolveOnly(dir);
    expect(status).toBe(0);
    expect(output).not.toContain('does not match');
  });

  it('refuses a lockfile whose real dependency differs from what the manifests resolve to, and says what to do', () => {
    const dir = copyOfRepository((lock) => {
      const pg = lock.packages['node_modules/pg'];
      expect(pg).toBeDefined();
      if (pg) pg.version = '8.0.0';
    });
    const before = readFileSync(join(dir, 'package-lock.json'), 'utf8');
    const { status, output } = resolveOnly(dir);
    expect(status).toBe(1);
    expect(output).toMatch(/node_modules\/pg: locked 8\.0\.0, resolves to 8\./);
    expect(output).toContain('run `npm install`');
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(before);
  });
});
