// Child processes of a chaos run: spawn, watch for READY, SIGKILL, restart, stop gracefully.
// Each child's stdout and stderr go to a log file in the run directory; stdout lines are also
// handed to the orchestrator (producers print rolled-back ids, consumers print failed attempts).
// An exit the orchestrator did not cause is recorded as a crash (a finding) and restarted.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** SIGKILLs every child still running (also done on process exit). */
export function killAllChildren() {
  for (const child of live) child.kill('SIGKILL');
}

export class Role {
  /**
   * @param {object} o
   * @param {string} o.name
   * @param {string} o.script absolute path of the worker
   * @param {Record<string,string>} o.env
   * @param {string} o.runDir
   * @param {(line: string, role: Role) => void} [o.onLine]
   * @param {(crash: object) => void} [o.onCrash]
   */
  constructor({ name, script, env, runDir, onLine = () => {}, onCrash = () => {} }) {
    this.name = name;
    this.script = script;
    this.env = env;
    this.onLine = onLine;
    this.onCrash = onCrash;
    this.log = createWriteStream(join(runDir, `${name}.log`), { flags: 'a' });
    this.proc = undefined;
    this.state = 'down';
    this.restarts = 0;
    this.autoRestart = true;
    this.stderrTail = [];
    this.#expectExit = false;
  }

  #expectExit;
  #started = false;
  #exited = Promise.resolve();
  #ready = Promise.resolve();

  get isUp() {
    return this.state === 'up' || this.state === 'starting';
  }

  start() {
    if (this.proc) return this.#ready;
    this.#expectExit = false;
    if (this.#started) this.restarts += 1;
    this.#started = true;
    this.state = 'starting';
    this.log.write(`--- ${new Date().toISOString()} start ${this.name}\n`);
    const proc = spawn(process.execPath, [this.script], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    live.add(proc);
    let resolveReady;
    let rejectReady;
    this.#ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.#ready.catch(() => {});
    createInterface({ input: proc.stdout }).on('line', (line) => {
      this.log.write(`${line}\n`);
      if (line === 'READY') {
        if (this.proc === proc) this.state = 'up';
        resolveReady();
      }
      this.onLine(line, this);
    });
    createInterface({ input: proc.stderr }).on('line', (line) => {
      this.log.write(`${line}\n`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    this.#exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        live.delete(proc);
        this.log.write(`--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`);
        if (this.proc === proc) {
          this.proc = undefined;
          this.state = 'down';
        }
        rejectReady(new Error(`${this.name} exited (code ${code}, signal ${signal}) before READY`));
        if (!this.#expectExit) {
          this.onCrash({
            role: this.name,
            code,
            signal,
            at: new Date().toISOString(),
            stderr: this.stderrTail.slice(-10),
          });
          if (this.autoRestart) setTimeout(() => this.start().catch(() => {}), 1000).unref();
        }
        resolve({ code, signal });
      });
    });
    return this.#ready;
  }

  async waitReady(timeoutMs = 30_000) {
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

  /** SIGKILL; resolves once the process is gone. No-op when down. */
  async kill() {
    if (!this.proc) return false;
    this.#expectExit = true;
    this.proc.kill('SIGKILL');
    await this.#exited;
    return true;
  }

  /** SIGTERM, then SIGKILL after graceMs. Returns the exit. */
  async stop(graceMs = 20_000) {
    this.autoRestart = false;
    const proc = this.proc;
    if (!proc) return { code: null, signal: null, alreadyDown: true };
    this.#expectExit = true;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    const exit = await this.#exited;
    clearTimeout(timer);
    return exit;
  }

  async close() {
    await new Promise((resolve) => this.log.end(resolve));
  }
}
