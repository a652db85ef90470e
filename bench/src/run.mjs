#!/usr/bin/env node
// @ts-check
// txbox benchmark suite: `npm run bench` (full) or `npm run bench -- --quick`, from the repo root.
// Runs each scenario next to its baseline against the local PostgreSQL and RabbitMQ, prints a
// table and writes results/latest.json, latest.md, latest.svg and report.html. See README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AMQP_URL, CleanupStack, connectAmqp, DATABASE_URL, newPool } from './lib/common.mjs';
import { backgroundLoad } from './lib/cpu.mjs';
import { enableProfiling } from './lib/profiler.mjs';
import { charts, evaluateTargets, html, markdownTable, stackedSvg, succeeded, targetsChart } from './lib/report.mjs';
import * as backlog from './scenarios/backlog.mjs';
import * as dedup from './scenarios/dedup.mjs';
import * as inbox from './scenarios/inbox.mjs';
import * as latency from './scenarios/latency.mjs';
import * as partitions from './scenarios/partitions.mjs';
import * as relay from './scenarios/relay.mjs';
import * as write from './scenarios/write.mjs';

/** @typedef {import('./lib/report.mjs').BenchResults} BenchResults */
/** @typedef {import('./lib/report.mjs').ScenarioName} ScenarioName */
/** @typedef {import('./lib/report.mjs').ScenarioSettings} ScenarioSettings */
/** @typedef {import('./lib/report.mjs').ScenarioResults} ScenarioResults */

const here = dirname(fileURLToPath(import.meta.url));
/**
 * Every scenario module by name, typed so that a name picks its own settings and result.
 * @type {{ [N in ScenarioName]: {
 *   defaults: { full: ScenarioSettings[N], quick: ScenarioSettings[N] },
 *   run(options: import('./lib/common.mjs').ScenarioOptions<ScenarioSettings[N]>): Promise<ScenarioResults[N]>,
 * } }}
 */
const SCENARIOS = { write, relay, inbox, dedup, latency, backlog, partitions };
/**
 * @param {string} name
 * @returns {name is ScenarioName}
 */
const isScenario = (name) => Boolean(/** @type {Record<string, unknown>} */ (SCENARIOS)[name]);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    messages: { type: 'string' },
    unique: { type: 'string' },
    backlog: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    batch: { type: 'string' },
    'in-flight': { type: 'string' },
    concurrency: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string' },
    out: { type: 'string' },
    render: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench -- [options]
  --quick               small sizes, finishes within 2 minutes (default: full, within 10)
  --only a,b            scenarios to run: ${Object.keys(SCENARIOS).join(', ')}
  --messages N          relay and inbox message count (default 20000; quick 5000)
  --unique N            dedup unique ids (default 20000; quick 3000)
  --backlog N           backlog rows (default 1000000; quick 100000)
  --rate N              latency offered load, msg/s (default 500)
  --duration S          latency seconds per mode (default 20; quick 5)
  --batch N             relay batchSize (default 500)
  --in-flight N         relay maxInFlightBatches (default 2)
  --concurrency N       inbox and dedup consumer concurrency (default 8)
  --wait-quiet S        before each scenario, wait up to S seconds for other load to drop below 25%
  --profile             CPU-profile the measured txbox phases into <out>/profiles/*.cpuprofile
  --out DIR             output directory (default bench/results)
  --render FILE         only re-render the reports of a results JSON (no benchmark)`);
  process.exit(0);
}

if (args.render) {
  const saved = /** @type {BenchResults} */ (JSON.parse(readFileSync(args.render, 'utf8')));
  saved.targets = evaluateTargets(saved);
  writeReports(saved, resolve(args.out ?? dirname(args.render)));
  process.exit(0);
}

const mode = args.quick ? 'quick' : 'full';
const requested = args.only ? args.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
for (const name of requested) {
  if (!isScenario(name)) {
    console.error(`unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
}
const only = requested.filter(isScenario); // all of them, checked above
const outDir = resolve(args.out ?? join(here, '..', 'results'));
/** @param {string | undefined} v */
const num = (v) => (v === undefined ? undefined : Number(v));

/** @type {ScenarioSettings} */
const settings = {
  write: { ...write.defaults[mode] },
  relay: { ...relay.defaults[mode] },
  inbox: { ...inbox.defaults[mode] },
  dedup: { ...dedup.defaults[mode] },
  latency: { ...latency.defaults[mode] },
  backlog: { ...backlog.defaults[mode] },
  partitions: { ...partitions.defaults[mode] },
};
/**
 * Overrides one setting from the command line, unless the option was not given.
 * @template {ScenarioName} N
 * @template {keyof ScenarioSettings[N]} K
 * @param {N} scenario
 * @param {K} key
 * @param {ScenarioSettings[N][K] | undefined} value
 */
const set = (scenario, key, value) => {
  if (value !== undefined) settings[scenario][key] = value;
};
set('relay', 'messages', num(args.messages));
set('inbox', 'messages', num(args.messages));
set('dedup', 'unique', num(args.unique));
set('backlog', 'backlog', num(args.backlog));
set('latency', 'rate', num(args.rate));
set('latency', 'durationMs', args.duration === undefined ? undefined : Number(args.duration) * 1000);
set('relay', 'batchSize', num(args.batch));
set('relay', 'maxInFlightBatches', num(args['in-flight']));
set('inbox', 'concurrency', num(args.concurrency));
set('dedup', 'concurrency', num(args.concurrency));

if (args.profile) enableProfiling(join(outDir, 'profiles'));

// Ctrl-C: drop what the running scenario created, then exit.
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('\ninterrupted: cleaning up (Ctrl-C again to skip)');
  const pending = [...CleanupStack.active].map((c) => c.run((m) => console.error(m)));
  Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 15_000))]).then(() => process.exit(130));
});

/** @param {string} message */
const log = (message) => console.log(message);
const started = performance.now();
/** @type {BenchResults} */
const results = {
  suite: 'txbox-bench',
  schemaVersion: 1,
  mode,
  generatedAt: new Date().toISOString(),
  machine: await machine(),
  versions: versions(),
  settings: Object.fromEntries(only.map((n) => [n, settings[n]])),
  environment: { backgroundLoadPercent: {}, waitQuietSeconds: num(args['wait-quiet']) ?? 0 },
};
console.log(`txbox bench (${mode}): ${only.join(', ')}`);
console.log(
  `${results.machine.cores} × ${results.machine.cpuModel}; PostgreSQL ${results.machine.postgres.version}; RabbitMQ ${results.machine.rabbitmq.version}`,
);

let failures = 0;
/**
 * Runs one scenario and records its outcome (a failure as { error }, counted) and its duration.
 * @template {ScenarioName} N
 * @param {N} name
 */
async function runScenario(name) {
  const t0 = performance.now();
  /** @type {import('./lib/report.mjs').ScenarioOutcome<ScenarioResults[N]>} */
  let outcome;
  try {
    const result = await SCENARIOS[name].run({
      settings: settings[name],
      databaseUrl: DATABASE_URL,
      amqpUrl: AMQP_URL,
      log,
    });
    // A result has neither `error` nor `scenarioMs` (set below) of its own.
    outcome = /** @type {import('./lib/report.mjs').ScenarioOutcome<ScenarioResults[N]>} */ (result);
  } catch (error) {
    failures += 1;
    outcome = { error: error instanceof Error ? error.message : String(error) };
    console.error(`  ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  /** @type {import('./lib/report.mjs').ScenarioOutcomes} */
  const outcomes = results;
  outcomes[name] = outcome;
  outcome.scenarioMs = Math.round(performance.now() - t0);
  console.log(`  (${(outcome.scenarioMs / 1000).toFixed(1)} s)`);
}
for (const name of only) {
  let load = await backgroundLoad(500);
  const quietDeadline = Date.now() + (num(args['wait-quiet']) ?? 0) * 1000;
  while (load !== null && load > 25 && Date.now() < quietDeadline) load = await backgroundLoad(1000);
  results.environment.backgroundLoadPercent[name] = load;
  const noisy = load !== null && load > 25 ? ` (warning: machine already ${load}% busy before the scenario)` : '';
  console.log(`\n▶ ${name}${noisy}`);
  await runScenario(name);
}
results.durationMs = Math.round(performance.now() - started);
results.targets = evaluateTargets(results);

const markdown = writeReports(results, outDir);
console.log(`\n${markdown}`);
for (const t of results.targets)
  console.log(
    `${t.met ? 'met   ' : 'MISSED'} ${t.id}: ${t.what} = ${t.achieved} (target ${t.better === 'higher' ? '≥' : '≤'} ${t.target})`,
  );
console.log(
  `\nwrote ${join(outDir, 'latest.json')}, latest.md, latest.svg, report.html, report.svg in ${(results.durationMs / 1000).toFixed(1)} s`,
);
process.exit(failures > 0 || (succeeded(results.dedup) && results.dedup.lost > 0) ? 1 : 0);

/**
 * Writes latest.json, latest.md, latest.svg, report.html and report.svg; returns the Markdown.
 * @param {BenchResults} r
 * @param {string} dir
 */
function writeReports(r, dir) {
  mkdirSync(dir, { recursive: true });
  const markdown = markdownTable(r);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), markdown);
  writeFileSync(join(dir, 'latest.svg'), `${targetsChart(r)}\n`);
  writeFileSync(join(dir, 'report.html'), html(r, markdown));
  writeFileSync(join(dir, 'report.svg'), stackedSvg(charts(r)));
  return markdown;
}

/** @returns {Promise<import('./lib/report.mjs').Machine>} */
async function machine() {
  const pool = newPool(1, DATABASE_URL);
  /** @type {Record<string, string>} */
  const pgInfo = {};
  try {
    const { rows } = await pool.query(
      `SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'synchronous_commit',
        'fsync', 'wal_level', 'max_connections', 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'full_page_writes')`,
    );
    for (const r of /** @type {{ name: string, setting: string, unit: string | null }[]} */ (rows))
      pgInfo[r.name] = r.unit && r.unit !== '' ? `${r.setting} ${r.unit}` : r.setting;
  } finally {
    await pool.end();
  }
  /** @type {import('./lib/report.mjs').Machine['rabbitmq']} */
  let rabbitmq;
  try {
    const connection = await connectAmqp(AMQP_URL);
    const p = connection.connection.serverProperties ?? {};
    rabbitmq = { version: String(p.version ?? '?'), erlang: p.platform ? String(p.platform) : undefined };
    await connection.close();
  } catch (error) {
    rabbitmq = { version: `unreachable: ${error instanceof Error ? error.message : String(error)}` };
  }
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model?.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.versions.node,
    postgres: { version: pgInfo.server_version, settings: pgInfo },
    rabbitmq,
    services: { database: redact(DATABASE_URL), amqp: redact(AMQP_URL) },
  };
}

function versions() {
  const require = createRequire(import.meta.url);
  /** @param {string} name */
  const version = (name) => {
    try {
      let dir = dirname(require.resolve(name));
      for (let i = 0; i < 6; i++) {
        try {
          const pkg = /** @type {{ name?: string, version?: string }} */ (
            JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
          );
          if (pkg.name === name) return pkg.version;
        } catch {}
        dir = dirname(dir);
      }
    } catch {}
    return undefined;
  };
  /** @type {string | undefined} */
  let commit;
  /** @type {boolean | undefined} */
  let dirty;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
    dirty =
      execFileSync('git', ['status', '--porcelain', '--', '../../packages'], { cwd: here, encoding: 'utf8' }).trim() !==
      '';
  } catch {}
  return {
    commit: commit ? `${commit}${dirty ? ' (packages modified)' : ''}` : undefined,
    '@txbox/core': version('@txbox/core'),
    '@txbox/outbox': version('@txbox/outbox'),
    '@txbox/inbox': version('@txbox/inbox'),
    amqplib: version('amqplib'),
    pg: version('pg'),
    zod: version('zod'),
  };
}

/** @param {string} url */
function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable>';
  }
}
