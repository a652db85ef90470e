// The examples' contracts against their snapshot (txbox-contracts.json, kept in the repository):
// `npm test` fails when a change would break consumers of a snapshotted version. After a
// compatible change or a new version, record it with `npm run contracts:snapshot -w @txbox-examples/contracts`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const cli = createRequire(join(root, 'package.json'));
const bin = join(dirname(cli.resolve('@txbox/cli/package.json')), 'dist', 'main.js');

it('txbox contracts check passes on the example contracts', () => {
  const result = spawnSync(process.execPath, [bin, 'contracts', 'check', '--module', './dist/index.js'], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  expect(result.stdout).toContain('contracts are compatible');
  expect(result.status).toBe(0);
});
