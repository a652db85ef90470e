// The public surface of @txbox/cli: the command line as a function (for wrappers and tests) and
// its exit codes. The operations themselves are the admin API of @txbox/outbox and @txbox/inbox.
export type { Command } from './cli/command.js';
export { EXIT_CODES, type ExitCode, UsageError } from './cli/exit-codes.js';
export type { CliIo } from './cli/io.js';
export { COMMANDS, runCli } from './cli/run-cli.js';
