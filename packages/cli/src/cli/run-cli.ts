// The `txbox` command line: finds the command named by the leading words, runs it, and turns
// whatever it throws into a printed error (password-free) and an exit code.
import { contractsCheck, contractsSnapshot } from '../commands/contracts.js';
import { dashboard } from '../commands/dashboard.js';
import {
  inboxDeadLettersList,
  inboxDeadLettersPurge,
  inboxDeadLettersReplay,
  inboxDeadLettersShow,
  inboxForget,
} from '../commands/inbox.js';
import { migrateApply, migrateSql, migrateStatus } from '../commands/migrate.js';
import {
  outboxDeadLettersList,
  outboxDeadLettersPurge,
  outboxDeadLettersRequeue,
  outboxDeadLettersShow,
} from '../commands/outbox-dead-letters.js';
import { status } from '../commands/status.js';
import type { Command } from './command.js';
import { EXIT_CODES, type ExitCode, exitCodeOf, UsageError } from './exit-codes.js';
import { type CliIo, printError, processIo } from './io.js';

export const COMMANDS: readonly Command[] = [
  status,
  migrateApply,
  migrateStatus,
  migrateSql,
  outboxDeadLettersList,
  outboxDeadLettersShow,
  outboxDeadLettersRequeue,
  outboxDeadLettersPurge,
  inboxDeadLettersList,
  inboxDeadLettersShow,
  inboxDeadLettersReplay,
  inboxDeadLettersPurge,
  inboxForget,
  contractsSnapshot,
  contractsCheck,
  dashboard,
];

function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return `Usage: txbox <command> [options]

Commands:
${commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`).join('\n')}

Run "txbox <command> --help" for a command's options. Exit codes: 0 ok, 1 failed, 2 usage,
3 migrations pending, 4 not found, 5 contracts broken.`;
}

/** The command whose path is the longest prefix of the leading words of `argv`. */
function find(commands: readonly Command[], argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => argv[i] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  return best && { command: best, rest: argv.slice(best.path.length) };
}

/**
 * Runs `txbox` with `argv` (the arguments after the program name) and returns the exit code.
 * `io` defaults to the process's stdout, stderr, environment and working directory.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  const args = [...argv];
  const json = args.includes('--json');
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.stdout(`${usage(COMMANDS)}\n`);
    return args.length === 0 ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  const found = find(COMMANDS, args);
  if (!found) {
    const words = args.filter((a) => !a.startsWith('-')).join(' ');
    printError(io, json, new UsageError(`unknown command "${words}"`));
    io.stderr(`\n${usage(COMMANDS)}\n`);
    return EXIT_CODES.usage;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.help}\n`);
    return EXIT_CODES.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    printError(io, json, error);
    if (error instanceof UsageError && !json) io.stderr(`\n${command.help}\n`);
    return exitCodeOf(error);
  }
}
