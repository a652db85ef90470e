#!/usr/bin/env node
// @ts-check
// Installs exactly what package-lock.json locks, with `npm ci`, while tolerating the one kind of
// change a registry makes on its own: optional platform binaries for other machines appearing or
// disappearing (see lockfile-drift.mjs). Steps:
//   1. resolve the manifests against the registry without installing (`npm install
//      --package-lock-only`, about a second with a warm cache);
//   2. compare with the committed lockfile: real drift stops here with the list of packages and what
//      to do; foreign optional packages that came or went are reported and accepted (the refreshed
//      lockfile is then the one installed from, since `npm ci` refuses one that lacks them);
//   3. `npm ci`, so every package is installed at its locked version and integrity.
// `--resolve-only` stops after step 2 (the test of this script uses it on a copy of the repository).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareLockfiles, describe } from './lockfile-drift.mjs';

const args = process.argv.slice(2);
const resolveOnly = args.includes('--resolve-only');
const cwdFlag = args.indexOf('--cwd');
const root = cwdFlag >= 0 ? resolve(String(args[cwdFlag + 1])) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lockPath = join(root, 'package-lock.json');

/** @param {string} message */
const log = (message) => console.log(`[install] ${message}`);

/** @param {string[]} npmArgs */
function npm(npmArgs) {
  const result = spawnSync('npm', [...npmArgs, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm ${npmArgs.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

const lockedText = readFileSync(lockPath, 'utf8');
// The committed lockfile comes back on every path but one: a refresh that only added or dropped
// other platforms' binaries, which `npm ci` needs and which is worth committing.
let keepRefreshed = false;
try {
  const locked = JSON.parse(lockedText);
  log('resolving package.json files against the registry (no install)');
  npm(['install', '--package-lock-only', '--ignore-scripts']);
  const { tolerated, drift } = compareLockfiles(locked, JSON.parse(readFileSync(lockPath, 'utf8')));

  if (drift.length > 0) {
    log(`package-lock.json does not match the package.json files (${drift.length} difference(s)):`);
    for (const difference of drift.slice(0, 40)) log(`  ${describe(difference)}`);
    if (drift.length > 40) log(`  … and ${drift.length - 40} more`);
    log('run `npm install`, review the change to package-lock.json and commit it');
    process.exitCode = 1;
  } else {
    if (tolerated.length > 0) {
      keepRefreshed = true;
      log(
        `${tolerated.length} optional package(s) for other platforms came or went in the registry; not installed here:`,
      );
      for (const difference of tolerated) log(`  ${describe(difference)}`);
      log('installing from the refreshed lockfile (commit it to make this note go away)');
    } else {
      log('package-lock.json is complete and up to date');
    }
    if (!resolveOnly) npm(['ci']);
  }
} catch (error) {
  keepRefreshed = false;
  log(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  if (!keepRefreshed) writeFileSync(lockPath, lockedText);
}
