// The public surface of @txbox/cli: the command line as a function (for wrappers and tests) and
// its exit codes. The operations themselves are the admin API of @txbox/outbox and @txbox/inbox.
export type { Command } from './cli/command.js';
export { EXIT_CODES, type ExitCode, UsageError } from './cli/exit-codes.js';
export type { CliIo } from './cli/io.js';
export { COMMANDS, runCli } from './cli/run-cli.js';
export { DEFAULT_SNAPSHOT_FILE } from './commands/contracts.js';
export {
  type ContractCheckResult,
  type ContractFinding,
  type ContractFindingKind,
  checkContracts,
} from './contracts/check-contracts.js';
export {
  type ContractSnapshot,
  jsonSchemaOf,
  readSnapshot,
  type SnapshotVersion,
  takeSnapshot,
  writeSnapshot,
} from './contracts/contract-snapshot.js';
export { loadContracts } from './contracts/load-contracts.js';
export { compareSchemas, type SchemaChange, type SchemaChangeKind } from './contracts/schema-compatibility.js';
