// @ts-check
// Shared bits of the chaos worker processes: the child side of the child-process protocol (env
// parsing, READY), and a logger that keeps warnings (with their fields) on stderr, where the
// orchestrator writes them to the run's log files.
import { requiredEnv } from '../../test-support/child-process.mjs';

export { announceReady, numberEnv, requiredEnv } from '../../test-support/child-process.mjs';

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const stamp = () => new Date().toISOString().slice(11, 23);

/** @typedef {Record<string, unknown>} LogFields */

/**
 * A txbox logger writing to stderr (debug dropped); `onWarn` sees each warning first.
 * @param {(msg: string, fields: LogFields) => void} [onWarn]
 * @returns {import('@txbox/core').TxboxLogger}
 */
export function stderrLogger(onWarn = () => {}) {
  return {
    debug() {},
    info: (msg, fields) => process.stderr.write(`${stamp()} INFO ${msg} ${JSON.stringify(fields ?? {})}\n`),
    warn: (msg, fields) => {
      onWarn(msg, fields ?? {});
      process.stderr.write(`${stamp()} WARN ${msg} ${JSON.stringify(fields ?? {})}\n`);
    },
    error: (msg, fields) => process.stderr.write(`${stamp()} ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  };
}

/** Any crash of a worker is a finding: print it where the orchestrator keeps it, then die. */
/** @param {string} name */
export function reportCrashes(name) {
  for (const event of /** @type {const} */ (['uncaughtException', 'unhandledRejection'])) {
    process.on(event, (/** @type {unknown} */ error) => {
      const stack = error instanceof Error ? error.stack : undefined;
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`${stamp()} CRASH ${name} ${event}: ${stack ?? String(error)}\n`);
      process.stdout.write(`CRASH ${event} ${JSON.stringify(message)}\n`);
      process.exit(70);
    });
  }
}

/**
 * CHAOS_AMQP_URL: one URL, or (cluster profile) the nodes' URLs comma-separated, each through the
 * process's own proxy — what the txbox `amqp` options take.
 * @returns {string | string[]}
 */
export function amqpUrlsEnv() {
  const urls = requiredEnv('CHAOS_AMQP_URL').split(',');
  return urls.length === 1 ? /** @type {string} */ (urls[0]) : urls;
}
