#!/usr/bin/env node
// @ts-check
// npm run chaos [-- --seed N --duration 180 --settle-timeout 180 --rate 15 --keep --strict-order
//                   --no-broker-restart --no-boundary --relay-mode table|wal]
// Exit code 0 when every check passed, 1 on any violation (the seed is named), 2 on bad usage.
import { ensureBrokerRunning } from './lib/broker.mjs';
import { killAllChildren } from './lib/children.mjs';
import { DEFAULTS, runChaos } from './lib/orchestrator.mjs';
import { formatReport } from './lib/report.mjs';

/** @typedef {Partial<typeof DEFAULTS> & { seed?: number, faults?: boolean }} ChaosArgs */

/**
 * @param {readonly string[]} argv
 * @returns {ChaosArgs & { seed: number }}
 */
function parseArgs(argv) {
  /** @type {ChaosArgs} */
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    /**
     * @param {string} v
     * @param {string} name
     */
    const num = (v, name) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) usage(`${name} must be a non-negative number`);
      return n;
    };
    if (arg === '--seed') o.seed = num(value(), '--seed');
    else if (arg === '--duration') o.durationMs = num(value(), '--duration') * 1000;
    else if (arg === '--settle-timeout') o.settleTimeoutMs = num(value(), '--settle-timeout') * 1000;
    else if (arg === '--rate') o.rate = num(value(), '--rate');
    else if (arg === '--keep') o.keep = true;
    else if (arg === '--strict-order') o.strictOrder = true;
    else if (arg === '--no-broker-restart') o.brokerRestart = false;
    else if (arg === '--no-boundary') o.boundary = false;
    else if (arg === '--no-faults') o.faults = false;
    else if (arg === '--broker') {
      const broker = value();
      if (broker !== 'single' && broker !== 'cluster') usage('--broker must be single or cluster');
      o.broker = broker;
    } else if (arg === '--relay-mode') {
      const mode = value();
      if (mode !== 'table' && mode !== 'wal') usage('--relay-mode must be table or wal');
      o.relayMode = mode;
    } else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  if (process.env.CHAOS_SEED && o.seed === undefined) o.seed = Number(process.env.CHAOS_SEED);
  if (process.env.CHAOS_DURATION && o.durationMs === undefined)
    o.durationMs = Number(process.env.CHAOS_DURATION) * 1000;
  return { ...o, seed: o.seed ?? Math.floor(Math.random() * 1_000_000) };
}

/**
 * @param {string} [problem]
 * @returns {never}
 */
function usage(problem) {
  if (problem) process.stderr.write(`${problem}\n`);
  process.stderr.write(
    `usage: node chaos/run.mjs [--seed N] [--duration s (default ${DEFAULTS.durationMs / 1000})] [--settle-timeout s]\n` +
      '                          [--rate tx/s per producer] [--keep] [--strict-order] [--no-broker-restart] [--no-boundary] [--no-faults]\n' +
      '                          [--relay-mode table|wal (default table)] [--broker single|cluster (default single)]\n',
  );
  process.exit(problem ? 2 : 0);
}

const options = parseArgs(process.argv.slice(2));
let interrupted = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping children and making sure RabbitMQ runs\n`);
    killAllChildren();
    ensureBrokerRunning((l) => process.stderr.write(`${l}\n`)).finally(() => process.exit(130));
  });
}

const result = await runChaos(options);
process.stdout.write(`${formatReport(result)}\n`);
process.exit(result.ok ? 0 : 1);
