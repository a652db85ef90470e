// `txbox contracts snapshot|check`: record the JSON Schema of every contract version in a file
// kept in the repository, and fail a build whose contracts would break consumers of a recorded
// version.
import { resolve } from 'node:path';
import { parseCommand } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { EXIT_CODES, UsageError } from '../cli/exit-codes.js';
import { print } from '../cli/io.js';
import { checkContracts } from '../contracts/check-contracts.js';
import { readSnapshot, takeSnapshot, writeSnapshot } from '../contracts/contract-snapshot.js';
import { loadContracts } from '../contracts/load-contracts.js';

/** The snapshot's default file name, in the working directory. */
export const DEFAULT_SNAPSHOT_FILE = 'txbox-contracts.json';

const OPTIONS = {
  module: { type: 'string', multiple: true },
  file: { type: 'string', default: DEFAULT_SNAPSHOT_FILE },
  force: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const MODULE_HELP = `Options:
  --module <path|package>  A module exporting contracts (repeatable): every exported contract, array or
                           object of contracts, and the older versions their upcasters name
  --file <path>            The snapshot file (default: ${DEFAULT_SNAPSHOT_FILE})
  --json                   Print JSON instead of text
  -h, --help               Show this help`;

async function load(argv: string[], cwd: string) {
  const { values } = parseCommand(argv, OPTIONS);
  if (!values.module?.length) throw new UsageError('name the module(s) that export your contracts: --module <path>');
  const file = resolve(cwd, values.file);
  return { values, file, contracts: await loadContracts(values.module, cwd) };
}

export const contractsSnapshot: Command = {
  path: ['contracts', 'snapshot'],
  summary: 'Write the JSON Schema of every contract version to a file kept in the repository',
  help: `Usage: txbox contracts snapshot --module <path>... [--file <path>] [--force]

Writes the JSON Schema of every contract version (zod 4 toJSONSchema, the input side: what a consumer
accepts). Refuses (exit code 5) while "contracts check" finds breaking changes against the existing
snapshot, unless --force (e.g. to drop a version no message of which can still be in flight).

${MODULE_HELP}
  --force                  Overwrite even when the change breaks consumers of a snapshotted version`,
  async run(argv, io) {
    const { values, file, contracts } = await load(argv, io.cwd);
    const previous = await readSnapshot(file);
    const breaking = previous ? checkContracts(previous, contracts).breaking : [];
    if (breaking.length > 0 && !values.force) {
      print(io, values.json, { written: false, breaking }, () => [
        ...breaking.map((f) => `BREAKING ${f.message}`),
        `not written: ${breaking.length} breaking change(s); fix them, or pass --force`,
      ]);
      return EXIT_CODES.contractsBroken;
    }
    const snapshot = takeSnapshot(contracts);
    await writeSnapshot(file, snapshot);
    const count = Object.values(snapshot.contracts).reduce((n, v) => n + Object.keys(v).length, 0);
    print(io, values.json, { written: true, file, versions: count }, () => [
      `wrote ${count} contract versions to ${file}`,
    ]);
    return EXIT_CODES.ok;
  },
};

export const contractsCheck: Command = {
  path: ['contracts', 'check'],
  summary: 'Fail (exit 5) on contract changes that break consumers of a snapshotted version',
  help: `Usage: txbox contracts check --module <path>... [--file <path>]

Compares the contracts with the snapshot. Breaking (exit code 5), each named with its contract,
version and field: a field removed or made required, a required field added, a type narrowed, an
enum value removed, a constraint tightened, any other change of a snapshotted version's schema in
place, a snapshotted version removed, a new version without an upcaster. Compatible (exit code 0):
an optional field added, an enum value added, a constraint loosened, a new version with an upcaster.
Exit code 4 when the snapshot file does not exist.

${MODULE_HELP}`,
  async run(argv, io) {
    const { values, file, contracts } = await load(argv, io.cwd);
    const snapshot = await readSnapshot(file);
    if (!snapshot) {
      print(io, values.json, { error: 'no snapshot', file }, () => [
        `no snapshot at ${file}: run "txbox contracts snapshot" and commit the file`,
      ]);
      return EXIT_CODES.notFound;
    }
    const result = checkContracts(snapshot, contracts);
    print(io, values.json, result, () => [
      ...result.breaking.map((f) => `BREAKING ${f.message}`),
      ...result.compatible.map((f) => `ok ${f.message}`),
      result.breaking.length
        ? `${result.breaking.length} breaking change(s)`
        : `contracts are compatible with ${file}${result.compatible.length ? ' (run "txbox contracts snapshot" to record the changes)' : ''}`,
    ]);
    return result.breaking.length ? EXIT_CODES.contractsBroken : EXIT_CODES.ok;
  },
};
