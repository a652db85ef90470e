// @ts-check
// Optional in-process CPU profiling of one measured phase (bench --profile): the V8 profiler via
// node:inspector, started and stopped around the phase only, written as <name>.cpuprofile (open it
// in Chrome DevTools or summarize it with tools/cpuprofile-summary.mjs). Off by default: sampling
// slows the measured code a little.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** @type {Session | undefined} */
let session;
/** @type {string | undefined} */
let directory;

/** @param {string} dir where the .cpuprofile files go */
export function enableProfiling(dir) {
  directory = dir;
  mkdirSync(dir, { recursive: true });
}

/**
 * Runs fn; when profiling is enabled, records its CPU profile as `<name>.cpuprofile`.
 * @template T
 * @param {string} name
 * @param {() => Promise<T> | T} fn
 * @returns {Promise<T>}
 */
export async function profiled(name, fn) {
  const dir = directory;
  if (!dir) return fn();
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
  }
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}
