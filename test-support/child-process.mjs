// @ts-check
// Both sides of the child-process protocol of crash tests, bench and chaos (types and the
// protocol itself in child-process.d.mts).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const READY_LINE = 'READY';

/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();
let reaperInstalled = false;

function installReaper() {
  if (reaperInstalled) return;
  reaperInstalled = true;
  // A failed or timed-out run must not leave a relay or consumer running against the shared services.
  process.once('exit', killAllChildren);
}

/** @type {import('./child-process.d.mts').killAllChildren} */
export function killAllChildren() {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * @param {string} line
 * @param {RegExp | string} match
 */
function matches(line, match) {
  return typeof match === 'string' ? line.includes(match) : match.test(line);
}

/** @type {import('./child-process.d.mts').runChild} */
export function runChild(scriptPath, args = [], env = {}, options = {}) {
  const { onLine, onStderrLine, keepLines = Number.POSITIVE_INFINITY } = options;
  installReaper();
  const child = spawn(process.execPath, [scriptPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  /** @type {string[]} */
  const stdout = [];
  /** @type {string[]} */
  const stderr = [];
  /** @type {Set<(line: string) => void>} */
  const lineListeners = new Set();
  /**
   * @param {string[]} lines
   * @param {string} line
   */
  const keep = (lines, line) => {
    lines.push(line);
    if (lines.length > keepLines) lines.shift();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    keep(stdout, line);
    for (const listener of lineListeners) listener(line);
    onLine?.(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    keep(stderr, line);
    onStderrLine?.(line);
  });

  /** @type {import('./child-process.d.mts').ChildExit | undefined} */
  let exit;
  /** @type {Promise<import('./child-process.d.mts').ChildExit>} */
  const closed = new Promise((resolve, reject) => {
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      resolve(exit);
    });
  });
  const exited = closed.then((ended) => ended.code);
  // Observed through waitForLine/kill; keep an unawaited spawn error from being unhandled.
  closed.catch(() => {});
  exited.catch(() => {});

  const tail = () =>
    `--- stdout (last 20 lines) ---\n${stdout.slice(-20).join('\n')}\n--- stderr (last 20 lines) ---\n${stderr.slice(-20).join('\n')}`;

  /** @type {import('./child-process.d.mts').RunningChild['waitForLine']} */
  function waitForLine(match, timeoutMs = 20_000) {
    const already = stdout.find((line) => matches(line, match));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const stopWaiting = () => {
        clearTimeout(timer);
        lineListeners.delete(onMatchingLine);
      };
      /** @param {string} line */
      const onMatchingLine = (line) => {
        if (!matches(line, match)) return;
        stopWaiting();
        resolve(line);
      };
      // An infinite timeout waits for the line or the exit, with no timer.
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            stopWaiting();
            reject(
              new Error(
                `child ${scriptPath} printed no line matching ${String(match)} within ${timeoutMs} ms\n${tail()}`,
              ),
            );
          }, timeoutMs)
        : undefined;
      lineListeners.add(onMatchingLine);
      closed.then(
        ({ code, signal }) => {
          // Let readline deliver the final lines before deciding the line never came.
          setImmediate(() => {
            if (!lineListeners.has(onMatchingLine)) return;
            stopWaiting();
            reject(
              new Error(
                `child ${scriptPath} exited (code ${code}, signal ${signal}) before printing a line matching ${String(match)}\n${tail()}`,
              ),
            );
          });
        },
        (/** @type {Error} */ error) => {
          stopWaiting();
          reject(error);
        },
      );
    });
  }

  /** @type {import('./child-process.d.mts').RunningChild['waitReady']} */
  async function waitReady(timeoutMs = 30_000) {
    await waitForLine(new RegExp(`^${READY_LINE}$`), timeoutMs);
  }

  /** @type {import('./child-process.d.mts').RunningChild['kill']} */
  function kill(signal = 'SIGKILL') {
    if (exit === undefined) child.kill(signal);
    return exited;
  }

  return { child, stdout, stderr, waitForLine, waitReady, kill, exited, closed };
}

/** @type {import('./child-process.d.mts').requiredEnv} */
export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`missing env ${name}\n`);
    process.exit(2);
  }
  return value;
}

/** @type {import('./child-process.d.mts').numberEnv} */
export function numberEnv(name, fallback) {
  const value = process.env[name];
  return value ? Number(value) : fallback;
}

/** @type {import('./child-process.d.mts').announceReady} */
export function announceReady() {
  process.stdout.write(`${READY_LINE}\n`);
}
