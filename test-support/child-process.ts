import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface RunningChild {
  readonly child: ChildProcess;
  /** stdout, one entry per line, as it arrives. */
  readonly stdout: string[];
  /** stderr, one entry per line, as it arrives. */
  readonly stderr: string[];
  /** Resolves with the first stdout line (already printed or still to come) that matches. */
  waitForLine(match: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (SIGKILL unless told) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process exits; null when a signal ended it. */
  readonly exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
let reaperInstalled = false;

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  // A failed or timed-out test must not leave a relay or consumer running against the shared services.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Runs `node scriptPath ...args` with the current environment plus `env`, capturing its output
 * line by line. Used to crash a relay or consumer with SIGKILL at a point it announces on stdout.
 */
export function runChild(scriptPath: string, args: string[] = [], env: Record<string, string> = {}): RunningChild {
  installReaper();
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, [scriptPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const stdout: string[] = [];
  const stderr: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout.push(line);
    for (const listener of lineListeners) listener(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));

  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      running.delete(child);
      exitCode = code;
      resolve(code);
    });
  });
  // Observed through waitForLine/kill; keep an unawaited spawn error from being unhandled.
  exited.catch(() => {});

  const tail = () =>
    `--- stdout (last 20 lines) ---\n${stdout.slice(-20).join('\n')}\n--- stderr (last 20 lines) ---\n${stderr.slice(-20).join('\n')}`;

  function matches(line: string, match: RegExp | string): boolean {
    return typeof match === 'string' ? line.includes(match) : match.test(line);
  }

  function waitForLine(match: RegExp | string, timeoutMs = 20_000): Promise<string> {
    const already = stdout.find((line) => matches(line, match));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        lineListeners.delete(onLine);
      };
      const onLine = (line: string) => {
        if (!matches(line, match)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`child ${scriptPath} printed no line matching ${String(match)} within ${timeoutMs} ms\n${tail()}`),
        );
      }, timeoutMs);
      lineListeners.add(onLine);
      exited.then(
        (code) => {
          // Let readline deliver the final lines before deciding the line never came.
          setImmediate(() => {
            if (!lineListeners.has(onLine)) return;
            cleanup();
            reject(
              new Error(
                `child ${scriptPath} exited (code ${code}) before printing a line matching ${String(match)}\n${tail()}`,
              ),
            );
          });
        },
        (error: Error) => {
          cleanup();
          reject(error);
        },
      );
    });
  }

  function kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (exitCode === undefined) child.kill(signal);
    return exited;
  }

  return { child, stdout, stderr, waitForLine, kill, exited };
}
