#!/usr/bin/env node
// @ts-check
// Checks what users would install rather than what the build wrote: every public workspace under
// packages/ that has a dist/ is packed with `npm pack`, the tarball is linted with publint and
// are-the-types-wrong, and all tarballs are installed together into a throwaway directory where
// each entry point must load from both `require` and `import` with the same named exports.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (/** @type {string} */ name) => join(root, 'node_modules', '.bin', name);

/** Named exports that must be functions in both module systems, per entry point. */
/** @type {Record<string, string[]>} */
const requiredFunctions = {
  '@txbox/core': ['defineMessage'],
  '@txbox/core/contracts': ['defineMessage'],
};

/**
 * Entry points that must stay light: the packages `require()` may load for them. A package of
 * shared contracts imports '@txbox/core/contracts' and must not drag in a broker or database client.
 * @type {Record<string, string[]>}
 */
const allowedPackages = {
  '@txbox/core/contracts': ['@txbox/core', 'zod'],
};

/** The ORMs @txbox/orm adapts: optional peers, which no entry point may load (they are typed structurally). */
const ORM_PACKAGES = [
  '@prisma/client',
  'drizzle-orm',
  'kysely',
  'knex',
  '@mikro-orm/core',
  '@mikro-orm/postgresql',
  'postgres',
];

/**
 * Entry points that must not load these packages. An adapter that imported its ORM would load it
 * even for users of another ORM (who have it not installed: the import would throw).
 * @type {Record<string, string[]>}
 */
const forbiddenPackages = Object.fromEntries(
  ['prisma', 'drizzle', 'kysely', 'knex', 'mikro-orm'].map((entry) => [`@txbox/orm/${entry}`, ORM_PACKAGES]),
);
for (const name of ['@txbox/core', '@txbox/core/internal', '@txbox/outbox', '@txbox/inbox', '@txbox/testing']) {
  forbiddenPackages[name] = ORM_PACKAGES;
}

const STEP_TIMEOUT_MS = 120_000;

/**
 * @param {string} command
 * @param {readonly string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [options]
 */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', npm_config_update_notifier: 'false' },
    ...options,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
    .split('\n')
    .filter((line) => !line.includes('Unknown user config'))
    .join('\n')
    .trim();
  const ok = result.status === 0 && !result.error;
  return {
    ok,
    output: result.error ? `${output}\n${result.error.message}`.trim() : output,
    stdout: String(result.stdout ?? ''),
  };
}

/** @param {string} text */
function indent(text) {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

// Each loader prints the sorted export names, and which of the required ones are not functions.
const LOAD_CJS = `const [name, ...required] = process.argv.slice(2);
const mod = require(name);
const keys = Object.keys(mod).filter((k) => k !== 'default' && k !== '__esModule').sort();
// Which installed packages the entry point pulled in (node_modules/<package>/...).
const packages = [...new Set(Object.keys(require.cache).flatMap((file) => {
  const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file.slice(file.lastIndexOf('node_modules')));
  return match ? [match[1].replace('\\\\', '/')] : [];
}))].sort();
console.log(JSON.stringify({ keys, packages, notFunctions: required.filter((k) => typeof mod[k] !== 'function') }));
`;
const LOAD_MJS = `const [name, ...required] = process.argv.slice(2);
const mod = await import(name);
const keys = Object.keys(mod).filter((k) => k !== 'default' && k !== '__esModule').sort();
console.log(JSON.stringify({ keys, notFunctions: required.filter((k) => typeof mod[k] !== 'function') }));
`;

const started = Date.now();
const workDir = mkdtempSync(join(tmpdir(), 'txbox-check-packages-'));
const packDir = join(workDir, 'pack');
const smokeDir = join(workDir, 'smoke');
mkdirSync(packDir);
let failed = false;

/**
 * @param {string} line
 * @param {string} [details]
 */
function fail(line, details) {
  failed = true;
  console.log(`FAIL ${line}`);
  if (details) console.log(indent(details));
}

/** @typedef {{ keys: string[], packages?: string[], notFunctions: string[] }} LoadedExports what load.cjs / load.mjs print */

/** @param {string} name */
function smokeTest(name) {
  const required = requiredFunctions[name] ?? [];
  /** @type {Partial<Record<'require' | 'import', LoadedExports>>} */
  const results = {};
  for (const [kind, file] of /** @type {const} */ ([
    ['require', 'load.cjs'],
    ['import', 'load.mjs'],
  ])) {
    const loaded = run(process.execPath, [file, name, ...required], { cwd: smokeDir });
    if (!loaded.ok) {
      fail(`${name}: ${kind}('${name}') from the installed tarball threw`, loaded.output);
      return;
    }
    /** @type {LoadedExports} */
    const exported = JSON.parse(loaded.stdout.trim().split('\n').pop() ?? '');
    results[kind] = exported;
    if (exported.notFunctions.length > 0) {
      fail(`${name}: ${kind}('${name}') does not expose ${exported.notFunctions.join(', ')} as a function`);
      return;
    }
  }
  const cjs = results.require?.keys ?? [];
  const esm = results.import?.keys ?? [];
  const onlyCjs = cjs.filter((k) => !esm.includes(k));
  const onlyEsm = esm.filter((k) => !cjs.includes(k));
  if (cjs.length === 0 || onlyCjs.length > 0 || onlyEsm.length > 0) {
    fail(
      `${name}: CommonJS and ESM entry points differ`,
      `require() exports ${cjs.length} names, import() exports ${esm.length}; only in require: [${onlyCjs.join(', ')}], only in import: [${onlyEsm.join(', ')}]`,
    );
    return;
  }
  const allowed = allowedPackages[name];
  const pulled = results.require?.packages ?? [];
  if (allowed && pulled.some((p) => !allowed.includes(p))) {
    fail(
      `${name}: loads ${pulled.filter((p) => !allowed.includes(p)).join(', ')}; it may load only ${allowed.join(', ')}`,
    );
    return;
  }
  const forbidden = (forbiddenPackages[name] ?? []).filter((p) => pulled.includes(p));
  if (forbidden.length > 0) {
    fail(`${name}: loads ${forbidden.join(', ')}; it must not load any ORM`);
    return;
  }
  const light = allowed ? `, loading only ${pulled.join(', ')}` : forbiddenPackages[name] ? ', loading no ORM' : '';
  const checked = `${required.length > 0 ? `, ${required.join(', ')} is a function` : ''}${light}`;
  console.log(
    `ok   ${name}: require() and import() of the installed tarball load ${cjs.length} identical exports${checked}`,
  );
}

/**
 * Every package the built JavaScript imports must be declared (dependencies or peerDependencies):
 * a bundler that inlines or a hoisted workspace that happens to provide an undeclared import hides
 * the gap until a user installs the tarball.
 * @param {string} name
 * @param {string} dir
 * @param {{ dependencies?: Record<string, string>, peerDependencies?: Record<string, string> }} manifest
 */
function checkDeclaredImports(name, dir, manifest) {
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const builtins = new Set(builtinModules);
  const imported = new Set();
  const distDir = join(dir, 'dist');
  for (const file of readdirSync(distDir, { recursive: true, encoding: 'utf8' })) {
    if (!/\.(c|m)?js$/.test(file)) continue;
    const text = readFileSync(join(distDir, file), 'utf8');
    for (const [, specifier] of text.matchAll(
      /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(?:\/[\w./-]*)?)["']/g,
    )) {
      const bare = /** @type {string} */ (specifier);
      if (bare.startsWith('node:') || builtins.has(bare)) continue;
      const pkg = bare.startsWith('@') ? bare.split('/').slice(0, 2).join('/') : (bare.split('/')[0] ?? bare);
      imported.add(pkg);
    }
  }
  const undeclared = [...imported].filter((pkg) => pkg !== name && !declared.has(pkg)).sort();
  if (undeclared.length > 0)
    fail(`${name}: dist imports ${undeclared.join(', ')} without declaring it in package.json`);
  else console.log(`ok   ${name}: every package its dist imports is declared (${[...imported].sort().join(', ')})`);
}

try {
  const packagesDir = join(root, 'packages');
  const candidates = readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, 'package.json')))
    .map((entry) => join(packagesDir, entry.name))
    .sort();

  /** @type {{ name: string, dir: string, tarball: string, manifest: any }[]} */
  const packed = [];
  for (const dir of candidates) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const name = manifest.name ?? dir;
    if (manifest.private) {
      console.log(`SKIP ${name}: private`);
      continue;
    }
    if (!existsSync(join(dir, 'dist'))) {
      console.log(`SKIP ${name}: no dist/ (not built)`);
      continue;
    }

    const pack = run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: dir });
    if (!pack.ok) {
      fail(`${name}: npm pack failed`, pack.output);
      continue;
    }
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    const tarball = join(packDir, info.filename);

    const publint = run(bin('publint'), ['run', tarball, '--strict']);
    const attw = run(bin('attw'), [tarball, '--profile', 'strict', '--format', 'ascii', '--no-emoji', '--no-color']);
    if (!publint.ok) fail(`${name}: publint`, publint.output);
    if (!attw.ok) fail(`${name}: attw`, attw.output);
    if (publint.ok && attw.ok) {
      console.log(`ok   ${name}@${info.version}: packed ${info.entryCount} files, publint clean, attw clean (strict)`);
    }
    checkDeclaredImports(name, dir, manifest);
    packed.push({ name, dir, tarball, manifest });
  }

  if (packed.length > 0) {
    // Peer dependencies of the packed packages (e.g. zod) are what a user installs alongside them.
    const packedNames = new Set(packed.map((p) => p.name));
    const peers = new Map();
    for (const { manifest } of packed) {
      for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
        if (!packedNames.has(peer)) peers.set(peer, range);
      }
    }
    const specs = [...packed.map((p) => p.tarball), ...[...peers].map(([peer, range]) => `${peer}@${range}`)];

    mkdirSync(smokeDir, { recursive: true });
    writeFileSync(join(smokeDir, 'package.json'), JSON.stringify({ name: 'txbox-smoke', private: true }));
    const install = run(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs],
      { cwd: smokeDir },
    );
    if (!install.ok) {
      fail(`smoke: npm install ${specs.map((s) => s.replace(packDir, '.')).join(' ')}`, install.output);
    } else {
      // Each package must use its packed siblings, not a copy of them from the registry.
      for (const { name } of packed) {
        for (const sibling of packedNames) {
          if (existsSync(join(smokeDir, 'node_modules', name, 'node_modules', sibling))) {
            fail(`${name}: installed its own copy of ${sibling} instead of the packed one (version range mismatch?)`);
          }
        }
      }
      writeFileSync(join(smokeDir, 'load.cjs'), LOAD_CJS);
      writeFileSync(join(smokeDir, 'load.mjs'), LOAD_MJS);
      // Every entry point in a package's exports map (".", "./contracts", "./internal"...).
      for (const { name, manifest } of packed) {
        for (const subpath of Object.keys(manifest.exports ?? { '.': null })) {
          if (subpath === './package.json') continue;
          smokeTest(subpath === '.' ? name : `${name}/${subpath.slice(2)}`);
        }
      }
    }
  }
} catch (error) {
  fail(
    `check-packages crashed: ${error instanceof Error ? error.message : String(error)}`,
    error instanceof Error ? error.stack : undefined,
  );
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

console.log(`check-packages: ${failed ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
process.exitCode = failed ? 1 : 0;
