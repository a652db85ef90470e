// The snapshot file: the JSON Schema (zod 4's `z.toJSONSchema`, input side: what a consumer
// accepts) of every contract version, and which version each upcasts from. Kept in the
// repository, so a change to it shows in review and `contracts check` compares against it.
import { readFile, writeFile } from 'node:fs/promises';
import { type AnyMessageContract, ConfigurationError } from '@txbox/core';
import { z } from 'zod';

export const SNAPSHOT_FORMAT = 1;

export interface SnapshotVersion {
  /** The version this one upcasts from, or null. */
  upcastFrom: number | null;
  schema: Record<string, unknown>;
}

export interface ContractSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** `type` → `version` → schema. */
  contracts: Record<string, Record<string, SnapshotVersion>>;
}

export function jsonSchemaOf(contract: AnyMessageContract): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(contract.schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return schema;
}

export function takeSnapshot(contracts: Map<string, Map<number, AnyMessageContract>>): ContractSnapshot {
  const out: ContractSnapshot = { format: SNAPSHOT_FORMAT, contracts: {} };
  for (const type of [...contracts.keys()].sort()) {
    const versions = contracts.get(type) as Map<number, AnyMessageContract>;
    const entry: Record<string, SnapshotVersion> = {};
    for (const version of [...versions.keys()].sort((a, b) => a - b)) {
      const contract = versions.get(version) as AnyMessageContract;
      entry[String(version)] = { upcastFrom: contract.upcaster?.from.version ?? null, schema: jsonSchemaOf(contract) };
    }
    out.contracts[type] = entry;
  }
  return out;
}

export async function writeSnapshot(file: string, snapshot: ContractSnapshot): Promise<void> {
  await writeFile(file, `${JSON.stringify(snapshot, null, 2)}\n`);
}

/** The snapshot in `file`, or undefined when there is none yet. */
export async function readSnapshot(file: string): Promise<ContractSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as ContractSnapshot;
  if (parsed?.format !== SNAPSHOT_FORMAT || typeof parsed.contracts !== 'object') {
    throw new ConfigurationError(
      'contracts.file',
      `${file} is not a txbox contracts snapshot (format ${SNAPSHOT_FORMAT})`,
    );
  }
  return parsed;
}
