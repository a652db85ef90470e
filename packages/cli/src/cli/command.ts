import type { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** One `txbox` command: the words that name it, its help, and what it runs. */
export interface Command {
  /** The words after `txbox`, e.g. `['outbox', 'dead-letters', 'list']`. */
  path: readonly string[];
  summary: string;
  /** The full help text, shown by `--help` and after a usage error. */
  help: string;
  run(argv: string[], io: CliIo): Promise<ExitCode>;
}
