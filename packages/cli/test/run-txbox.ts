// Runs the built `txbox` binary as an operator would, in a child process, with the test's
// PostgreSQL and RabbitMQ in its environment.
import { fileURLToPath } from 'node:url';
import { runChild } from '../../../test-support/index.js';

export const TXBOX_BIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface TxboxRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json<T = unknown>(): T;
}

export async function txbox(args: string[], env: Record<string, string> = {}, bin = TXBOX_BIN): Promise<TxboxRun> {
  const child = runChild(bin, args, env);
  const { code } = await child.closed;
  const stdout = child.stdout.join('\n');
  return {
    code,
    stdout,
    stderr: child.stderr.join('\n'),
    json: <T>() => JSON.parse(stdout) as T,
  };
}
