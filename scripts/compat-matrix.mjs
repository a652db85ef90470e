#!/usr/bin/env node
// @ts-check
// The compatibility matrix: what a user installs, in the stacks users run. Every public workspace
// package is packed with `npm pack`; each combination below gets a scratch CommonJS app outside
// the workspace (in the OS temp directory) that installs those tarballs and the combination's
// registry versions, compiles with plain `tsc` (no SWC), and then runs against the real
// PostgreSQL and RabbitMQ: boot, write an order and its event in one transaction, consume it
// with @OnMessage (a first attempt that fails after a @Transactional() write, rolled back; the
// retry applies it once), and stop on SIGTERM after draining.
//
//   node scripts/compat-matrix.mjs [--only <id>[,<id>...]] [--keep]
//
// Run after `npm run build`. Every combination is installed once per run, all through one npm
// cache (npm's own unless TXBOX_COMPAT_NPM_CACHE is set) with --prefer-offline, so a second run
// downloads nothing; on a fresh machine only the npm registry is needed. Exits 1 if any
// combination fails. Reads TXBOX_TEST_DATABASE_URL / TXBOX_TEST_AMQP_URL like the tests.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { groupTopology } from '@txbox/inbox';
import amqplib from 'amqplib';
import pg from 'pg';
import { runChild } from '../test-support/child-process.mjs';
import { deleteTopology } from '../test-support/topology.mjs';
import { prismaGenerate } from './prisma-generate.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const databaseUrl = process.env.TXBOX_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const amqpUrl = process.env.TXBOX_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** What every scratch app installs besides its combination (peers of the packed packages and the app's own needs). */
const COMMON = {
  pg: '^8.11.0',
  zod: '^4.0.0',
  'reflect-metadata': '^0.2.2',
  rxjs: '^7.8.0',
  'nestjs-cls': '^6.3.0',
  '@nestjs-cls/transactional': '^3.3.0',
  '@nestjs-cls/transactional-adapter-typeorm': '^1.4.0',
  typescript: '~5.9.0',
  '@types/node': '^20.19.0',
};

/**
 * @typedef {object} Combination
 * @property {string} id
 * @property {string} app folder under scripts/compat/ holding the app's src/ and tsconfig.json
 * @property {Record<string, string>} dependencies registry packages and ranges, on top of COMMON
 * @property {string} [common] folder under scripts/compat/ copied to the app's src/common/ (code shared by apps)
 * @property {'prisma'} [generate] `prisma generate` of the app's prisma/schema.prisma, before tsc
 */

/** @param {string} major @param {string} typeorm @param {string} nestTypeorm @returns {Record<string, string>} */
function nestTypeOrm(major, typeorm, nestTypeorm) {
  return {
    '@nestjs/common': `^${major}.0.0`,
    '@nestjs/core': `^${major}.0.0`,
    '@nestjs/platform-express': `^${major}.0.0`,
    '@nestjs/typeorm': nestTypeorm,
    typeorm,
  };
}

/** @type {Combination[]} */
const NEST_COMBINATIONS = [
  { id: 'nest10-typeorm0.3', app: 'nest-typeorm', dependencies: nestTypeOrm('10', '~0.3.0', '^10.0.0') },
  { id: 'nest11-typeorm0.3', app: 'nest-typeorm', dependencies: nestTypeOrm('11', '~0.3.0', '^11.0.0') },
  { id: 'nest11-typeorm1', app: 'nest-typeorm', dependencies: nestTypeOrm('11', '^1.0.0', '^11.0.0') },
  { id: 'nest12-typeorm1', app: 'nest-typeorm', dependencies: nestTypeOrm('12', '^1.0.0', '^12.0.0') },
];

const PG_TYPES = { '@types/pg': '^8.11.0' };

/**
 * The ORM adapters of `@txbox/orm`, each at its current major: one plain-Node CommonJS app per
 * ORM (scripts/compat/orm-<name>/ plus the shared scripts/compat/orm-common/run.ts), which writes
 * with the outbox in the ORM's transaction and consumes with the ORM's session. Their packages are
 * packed with the others (every public packages/* workspace).
 * @type {Combination[]}
 */
// tsc of the shared run.ts needs pg's types (PG_TYPES).
const ORM_ADAPTER_COMBINATIONS = [
  {
    id: 'orm-prisma7',
    app: 'orm-prisma',
    common: 'orm-common',
    generate: 'prisma',
    dependencies: { ...PG_TYPES, '@prisma/client': '^7.0.0', '@prisma/adapter-pg': '^7.0.0', prisma: '^7.0.0' },
  },
  {
    id: 'orm-drizzle0',
    app: 'orm-drizzle',
    common: 'orm-common',
    dependencies: { ...PG_TYPES, 'drizzle-orm': '<1.0.0' },
  },
  { id: 'orm-kysely0.29', app: 'orm-kysely', common: 'orm-common', dependencies: { ...PG_TYPES, kysely: '^0.29.0' } },
  { id: 'orm-knex3', app: 'orm-knex', common: 'orm-common', dependencies: { ...PG_TYPES, knex: '^3.0.0' } },
  {
    id: 'orm-mikro-orm7',
    app: 'orm-mikro-orm',
    common: 'orm-common',
    dependencies: { ...PG_TYPES, '@mikro-orm/core': '^7.0.0', '@mikro-orm/postgresql': '^7.0.0' },
  },
];

/** Packages whose installed version a line of the report names (those its combination asks for). */
const REPORTED = [
  '@nestjs/core',
  'typeorm',
  '@nestjs/typeorm',
  '@prisma/client',
  'drizzle-orm',
  'kysely',
  'knex',
  '@mikro-orm/core',
];

const COMBINATIONS = [...NEST_COMBINATIONS, ...ORM_ADAPTER_COMBINATIONS];

const { values } = parseArgs({
  options: { only: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const only = values.only?.split(',');
const selected = only ? COMBINATIONS.filter((c) => only.includes(c.id)) : COMBINATIONS;
if (only && selected.length !== only.length) {
  console.error(`compat-matrix: unknown combination in --only; known: ${COMBINATIONS.map((c) => c.id).join(', ')}`);
  process.exit(2);
}

const npmCache = process.env.TXBOX_COMPAT_NPM_CACHE;
const npmEnv = {
  ...process.env,
  FORCE_COLOR: '0',
  NO_COLOR: '1',
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  ...(npmCache ? { npm_config_cache: npmCache } : {}),
};

/**
 * @param {string} command
 * @param {readonly string[]} args
 * @param {string} cwd
 */
function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: npmEnv, timeout: 600_000 });
  return {
    ok: result.status === 0 && !result.error,
    stdout: String(result.stdout ?? ''),
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`.trim(),
  };
}

/** Packs every public, built workspace under packages/; returns the tarball paths. @param {string} packDir */
function packWorkspaces(packDir) {
  const tarballs = [];
  const packagesDir = join(root, 'packages');
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    const dir = join(packagesDir, entry.name);
    if (!entry.isDirectory() || !existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    if (!existsSync(join(dir, 'dist'))) throw new Error(`${manifest.name} is not built: run npm run build first`);
    const pack = run('npm', ['pack', '--json', '--pack-destination', packDir], dir);
    if (!pack.ok) throw new Error(`npm pack of ${manifest.name} failed:\n${pack.output}`);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    tarballs.push(join(packDir, info.filename));
  }
  return tarballs;
}

/** @param {string} text */
function indent(text) {
  return text
    .split('\n')
    .slice(-40)
    .map((line) => `    ${line}`)
    .join('\n');
}

/** A name unique to this run, usable as schema, queue and exchange name. @param {string} id */
function scratchName(id) {
  return `compat_${id.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
}

/**
 * Installs, compiles and runs one combination. Returns the lines to report; throws on failure.
 * @param {Combination} combination
 * @param {string} workDir
 * @param {string[]} tarballs
 */
async function check(combination, workDir, tarballs) {
  const appDir = join(workDir, combination.id);
  cpSync(join(root, 'scripts', 'compat', combination.app), appDir, { recursive: true });
  if (combination.common) {
    cpSync(join(root, 'scripts', 'compat', combination.common), join(appDir, 'src', 'common'), { recursive: true });
  }
  const dependencies = { ...COMMON, ...combination.dependencies };
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({ name: `txbox-compat-${combination.id}`, private: true, type: 'commonjs', dependencies }, null, 2),
  );
  const timings = [];
  let started = Date.now();
  // One install: the packed tarballs and the registry versions resolved together, as a user's
  // `npm install` of the README's line does.
  const specs = [...tarballs, ...Object.entries(dependencies).map(([name, range]) => `${name}@${range}`)];
  const install = run('npm', ['install', '--prefer-offline', '--loglevel=error', ...specs], appDir);
  if (!install.ok) throw new Error(`npm install failed:\n${indent(install.output)}`);
  timings.push(`install ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const installed = REPORTED.filter((name) => name in combination.dependencies)
    .filter((name) => existsSync(join(appDir, 'node_modules', name, 'package.json')))
    .map(
      (name) =>
        `${name}@${JSON.parse(readFileSync(join(appDir, 'node_modules', name, 'package.json'), 'utf8')).version}`,
    );

  started = Date.now();
  if (combination.generate === 'prisma') {
    const generated = prismaGenerate(join(appDir, 'prisma', 'schema.prisma'), join(appDir, 'node_modules/.bin/prisma'));
    if (!generated.ok) throw new Error(`prisma generate failed:\n${indent(generated.output)}`);
  }
  const tsc = run(
    process.execPath,
    [join(appDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    appDir,
  );
  if (!tsc.ok) throw new Error(`tsc failed:\n${indent(tsc.output)}`);
  timings.push(`tsc ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const name = scratchName(combination.id);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  started = Date.now();
  try {
    await db.query(`CREATE SCHEMA "${name}"`);
    const child = runChild(join(appDir, 'dist', 'main.js'), [], {
      DATABASE_URL: databaseUrl,
      AMQP_URL: amqpUrl,
      COMPAT_SCHEMA: name,
      COMPAT_EXCHANGE: name,
      COMPAT_GROUP: name,
      NODE_ENV: 'development',
      NODE_OPTIONS: '--no-warnings',
    });
    const log = () => [...child.stdout, ...child.stderr].join('\n');
    let result;
    try {
      result = await child.waitForLine(/^COMPAT (OK|FAIL)/, 60_000);
    } catch (error) {
      child.child.kill('SIGKILL');
      throw new Error(`the app did not report: ${/** @type {Error} */ (error).message}\n${indent(log())}`);
    }
    if (!result.startsWith('COMPAT OK')) throw new Error(`${result}\n${indent(log())}`);
    child.child.kill('SIGTERM');
    const exit = await child.closed;
    // enableShutdownHooks: Nest closes the app, then re-raises SIGTERM (status 143 to a shell).
    if (exit.signal !== 'SIGTERM' || !/Inbox consumer stopped[\s\S]*Outbox relay stopped/.test(log())) {
      throw new Error(`SIGTERM did not drain and end the process (exit ${JSON.stringify(exit)}):\n${indent(log())}`);
    }
    timings.push(`run ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return `${installed.join(', ')}: ${result.replace('COMPAT OK ', '')} (${timings.join(', ')})`;
  } finally {
    await db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => {});
    await db.end().catch(() => {});
    // What the app's consumer group declared (its retry delays are the app's: [200]).
    await deleteTopology(
      channel,
      groupTopology({ group: name, exchange: name, retryDelaysMs: [200], bindings: [], queueType: 'classic' }),
    );
    await connection.close().catch(() => {});
  }
}

const started = Date.now();
const workDir = mkdtempSync(join(tmpdir(), 'txbox-compat-'));
const packDir = join(workDir, 'tarballs');
mkdirSync(packDir);
let failed = 0;
try {
  const tarballs = packWorkspaces(packDir);
  console.log(`compat-matrix: packed ${tarballs.map((t) => t.slice(packDir.length + 1)).join(', ')}`);
  for (const combination of selected) {
    try {
      console.log(`ok   ${combination.id}: ${await check(combination, workDir, tarballs)}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${combination.id}: ${/** @type {Error} */ (error).message}`);
    }
  }
} finally {
  if (values.keep) console.log(`compat-matrix: scratch apps kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
}
console.log(
  `compat-matrix: ${failed === 0 ? 'passed' : `${failed} of ${selected.length} FAILED`} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
process.exitCode = failed === 0 ? 0 : 1;
