import type { ChildProcess } from 'node:child_process';

/**
 * The protocol between a test (or the bench, or a chaos run) and a worker in a child process:
 * the worker is configured by environment variables, prints `READY` on stdout once it is
 * started, then one line per event worth knowing (`BATCH …`, `COMMITTING <id>`…), and is stopped
 * with SIGTERM (gracefully) or SIGKILL (a crash at a point it announced).
 */

/** The line a worker prints once it is started. */
export const READY_LINE: 'READY';

/** How a child process ended. */
export interface ChildExit {
  /** Exit code; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunChildOptions {
  /** Called with each stdout line as it arrives (after it is added to `stdout`). */
  onLine?: (line: string) => void;
  /** Called with each stderr line as it arrives (after it is added to `stderr`). */
  onStderrLine?: (line: string) => void;
  /** Lines of each stream kept in `stdout`/`stderr`; older ones are dropped. @defaultValue Infinity */
  keepLines?: number;
}

export interface RunningChild {
  readonly child: ChildProcess;
  /** stdout, one entry per line, as it arrives. */
  readonly stdout: string[];
  /** stderr, one entry per line, as it arrives. */
  readonly stderr: string[];
  /**
   * Resolves with the first stdout line (already printed or still to come) that matches; rejects
   * when the child exits first or after `timeoutMs` (default 20 s; `Infinity`: no deadline).
   */
  waitForLine(match: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves once the child has printed READY; rejects if it exits or times out (default 30 s) first. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Sends `signal` (SIGKILL unless told) and resolves with the exit code once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process exits; null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /** Resolves with code and signal once the process has exited and its output is read. */
  readonly closed: Promise<ChildExit>;
}

/**
 * Runs `node scriptPath ...args` with the current environment plus `env`, capturing its output
 * line by line. Every child still running when this process exits is SIGKILLed.
 */
export function runChild(
  scriptPath: string,
  args?: readonly string[],
  env?: Readonly<Record<string, string>>,
  options?: RunChildOptions,
): RunningChild;

/** SIGKILLs every child started by runChild that is still running (also done on process exit). */
export function killAllChildren(): void;

/** In a worker: the value of a required environment variable; exits with code 2 when it is unset. */
export function requiredEnv(name: string): string;

/** In a worker: a numeric environment variable, or `fallback` when it is unset or empty. */
export function numberEnv(name: string, fallback: number): number;

/** In a worker: prints READY, the line `waitReady()` waits for. */
export function announceReady(): void;
