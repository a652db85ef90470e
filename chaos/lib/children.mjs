// @ts-check
// Child processes of a chaos run: spawn, watch for READY, SIGKILL, restart, stop gracefully.
// Spawning, line capture and READY are the child-process protocol the crash tests use
// (test-support/child-process.mjs); what is chaos-specific lives here: each child's stdout and
// stderr go to a log file in the run directory, stdout lines are handed to the orchestrator
// (producers print rolled-back ids, consumers print failed attempts), and an exit the
// orchestrator did not cause is recorded as a crash (a finding) and restarted.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { READY_LINE, runChild } from '../../test-support/child-process.mjs';

export { killAllChildren } from '../../test-support/child-process.mjs';

/** Lines of stderr kept for a crash report. */
const STDERR_TAIL_LINES = 30;

/**
 * @typedef {object} Crash
 * @property {string} role
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {string} at ISO timestamp
 * @property {string[]} stderr last lines of stderr
 */

/** @typedef {import('../../test-support/child-process.d.mts').ChildExit} ChildExit */

export class Role {
  /**
   * @param {object} o
   * @param {string} o.name
   * @param {string} o.script absolute path of the worker
   * @param {Record<string,string>} o.env
   * @param {string} o.runDir
   * @param {(line: string, role: Role) => void} [o.onLine]
   * @param {(crash: Crash) => void} [o.onCrash]
   */
  constructor({ name, script, env, runDir, onLine = () => {}, onCrash = () => {} }) {
    this.name = name;
    this.script = script;
    this.env = env;
    this.onLine = onLine;
    this.onCrash = onCrash;
    this.log = createWriteStream(join(runDir, `${name}.log`), { flags: 'a' });
    /** @type {import('../../test-support/child-process.d.mts').RunningChild | undefined} */
    this.proc = undefined;
    /** @type {'down' | 'starting' | 'up'} */
    this.state = 'down';
    this.restarts = 0;
    this.autoRestart = true;
    /** @type {string[]} */
    this.stderrTail = [];
  }

  #expectExit = false;
  #started = false;
  /** @type {import('../../test-support/child-process.d.mts').RunningChild | undefined} the process freeze() stopped */
  #frozen = undefined;
  /** @type {Promise<ChildExit>} */
  #exited = Promise.resolve({ code: null, signal: null });
  /** @type {Promise<void>} */
  #ready = Promise.resolve();

  get isUp() {
    return this.state === 'up' || this.state === 'starting';
  }

  /** @returns {Promise<void>} resolves once the worker printed READY */
  start() {
    if (this.proc) return this.#ready;
    this.#expectExit = false;
    if (this.#started) this.restarts += 1;
    this.#started = true;
    this.state = 'starting';
    this.log.write(`--- ${new Date().toISOString()} start ${this.name}\n`);
    const proc = runChild(this.script, [], this.env, {
      // The log file has everything; memory keeps only what a crash report shows.
      keepLines: STDERR_TAIL_LINES,
      onLine: (line) => {
        this.log.write(`${line}\n`);
        if (line === READY_LINE && this.proc === proc) this.state = 'up';
        this.onLine(line, this);
      },
      onStderrLine: (line) => {
        this.log.write(`${line}\n`);
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      },
    });
    this.proc = proc;
    // No deadline here: waitReady() bounds the wait; an exit before READY rejects it.
    this.#ready = proc.waitReady(Number.POSITIVE_INFINITY);
    this.#ready.catch(() => {});
    // A spawn that failed ('error' instead of 'close') is handled as an exit without code.
    this.#exited = proc.closed
      .catch(() => ({ code: null, signal: null }))
      .then((exit) => {
        this.#onExit(proc, exit);
        return exit;
      });
    return this.#ready;
  }

  /**
   * @param {import('../../test-support/child-process.d.mts').RunningChild} proc
   * @param {ChildExit} exit
   */
  #onExit(proc, { code, signal }) {
    this.log.write(`--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`);
    if (this.proc === proc) {
      this.proc = undefined;
      this.state = 'down';
    }
    if (this.#expectExit) return;
    this.onCrash({ role: this.name, code, signal, at: new Date().toISOString(), stderr: this.stderrTail.slice(-10) });
    if (this.autoRestart) setTimeout(() => this.start().catch(() => {}), 1000).unref();
  }

  async waitReady(timeoutMs = 30_000) {
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} not READY within ${timeoutMs} ms\n${this.stderrTail.join('\n')}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.#ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * SIGSTOP: the process keeps its sockets but answers nothing (a frozen instance: its database
   * sessions go idle, its broker connection stays open until heartbeats time out). No-op (false)
   * when down or already frozen.
   */
  freeze() {
    if (!this.proc || this.#frozen === this.proc) return false;
    this.#frozen = this.proc;
    this.proc.child.kill('SIGSTOP');
    return true;
  }

  /** SIGCONT to the process freeze() stopped, if it still runs (a kill or restart ends the freeze). */
  thaw() {
    const frozen = this.#frozen;
    this.#frozen = undefined;
    if (frozen && frozen === this.proc) frozen.child.kill('SIGCONT');
  }

  /** SIGKILL; resolves once the process is gone. No-op (false) when down. */
  async kill() {
    if (!this.proc) return false;
    this.#expectExit = true;
    this.proc.child.kill('SIGKILL');
    await this.#exited;
    return true;
  }

  /**
   * SIGTERM, then SIGKILL after graceMs. Returns the exit.
   * @returns {Promise<ChildExit & { alreadyDown?: true }>}
   */
  async stop(graceMs = 20_000) {
    this.autoRestart = false;
    const proc = this.proc;
    if (!proc) return { code: null, signal: null, alreadyDown: true };
    this.#expectExit = true;
    this.thaw(); // a stopped process would hold SIGTERM until the end of the grace period
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    const exit = await this.#exited;
    clearTimeout(timer);
    return exit;
  }

  async close() {
    await new Promise((resolve) => this.log.end(resolve));
  }
}
