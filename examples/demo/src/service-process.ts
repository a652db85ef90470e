// Runs one example service as a child process and follows its stdout: lines that start with
// "@demo " are JSON events (`ready`, `stats`); anything else is kept as log, printed live with
// DEMO_VERBOSE=1 and shown when the demo fails.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { InboxStats } from '@txbox/inbox';
import type { OutboxStats } from '@txbox/outbox';
import { DemoError } from './demo-error.js';

const EVENT_PREFIX = '@demo ';
const LOG_LINES_KEPT = 40;

/** What a service prints with `@demo {"event":"ready",...}`. */
export interface ReadyEvent {
  service: string;
  event: 'ready';
  /** orders: its HTTP base URL. */
  url?: string;
  /** billing: orders above this are declined. */
  chargeLimitCents?: number;
}

/** What a service prints every 200 ms with `@demo {"event":"stats",...}`. */
export interface StatsEvent {
  service: string;
  event: 'stats';
  consumer: InboxStats;
  outbox: OutboxStats;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServiceProcess {
  readonly name: string;
  readonly exited: Promise<ExitStatus>;
  /** The last stats line, if any. */
  stats: StatsEvent | undefined;
  readonly log: string[] = [];
  #exitStatus: ExitStatus | undefined;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #ready: Promise<ReadyEvent>;
  #onReady: (event: ReadyEvent) => void = () => {};
  readonly #verbose: boolean;

  /**
   * @param name shown in logs, e.g. "billing#2"
   * @param script the service's compiled entry point
   * @param env added to the demo's own environment
   */
  constructor(name: string, script: string, env: Record<string, string>, options: { verbose?: boolean } = {}) {
    this.name = name;
    this.#verbose = Boolean(options.verbose);
    this.#child = spawn(process.execPath, [script], {
      // EXIT_WITH_PARENT: the service stops when its stdin closes, so no child outlives the demo.
      env: { ...process.env, ...env, EXIT_WITH_PARENT: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitStatus = { code, signal };
        resolve(this.#exitStatus);
      });
    });
    this.#ready = new Promise<ReadyEvent>((resolve, reject) => {
      this.#onReady = resolve;
      void this.exited.then(({ code, signal }) =>
        reject(new DemoError(`${this.name} exited before it was ready (${signal ?? `exit code ${code}`})`)),
      );
    });
    this.#ready.catch(() => {});
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.#child.stderr }).on('line', (line) => this.#keep(line));
  }

  get running(): boolean {
    return this.#exitStatus === undefined;
  }

  /** Waits for the ready event, failing after `timeoutMs`. */
  async waitUntilReady(timeoutMs: number): Promise<ReadyEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DemoError(`${this.name} did not report ready within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: no shutdown hooks, no acks, no lease release. */
  async crash(): Promise<ExitStatus> {
    this.#child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, then waits for the exit; SIGKILL and a DemoError after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<ExitStatus> {
    if (this.#exitStatus) return this.#exitStatus;
    this.#child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const status = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (status) return status;
    this.#child.kill('SIGKILL');
    throw new DemoError(`${this.name} did not stop within ${timeoutMs / 1000} s of SIGTERM`);
  }

  /** SIGKILL if still running (cleanup after a failure). */
  kill(): void {
    if (this.running) this.#child.kill('SIGKILL');
  }

  /** The last lines of its output, indented, for a failure report. */
  tail(lines = 15): string[] {
    return this.log.slice(-lines).map((line) => `    ${line}`);
  }

  #onLine(line: string): void {
    if (!line.startsWith(EVENT_PREFIX)) {
      this.#keep(line);
      return;
    }
    let event: ReadyEvent | StatsEvent;
    try {
      event = JSON.parse(line.slice(EVENT_PREFIX.length));
    } catch {
      this.#keep(line);
      return;
    }
    if (event.event === 'ready') this.#onReady(event);
    if (event.event === 'stats') this.stats = event;
  }

  #keep(line: string): void {
    this.log.push(line);
    if (this.log.length > LOG_LINES_KEPT) this.log.shift();
    if (this.#verbose) console.log(`  [${this.name}] ${line}`);
  }
}
