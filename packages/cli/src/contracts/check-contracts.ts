// `contracts check`: what consumers of a snapshotted contract version would see break. A version
// is a promise: its schema may only grow compatibly in place (an optional field, an enum value);
// anything else needs a new version with an upcaster, and no snapshotted version may disappear
// while messages of it can still be in flight.
import type { AnyMessageContract } from '@txbox/core';
import { type ContractSnapshot, jsonSchemaOf } from './contract-snapshot.js';
import { compareSchemas, type SchemaChangeKind } from './schema-compatibility.js';

export type ContractFindingKind =
  | SchemaChangeKind
  | 'version-removed'
  | 'contract-removed'
  | 'upcaster-missing'
  | 'upcaster-removed'
  | 'version-added';

export interface ContractFinding {
  type: string;
  version: number;
  /** Field path inside the payload, empty for the whole payload or the contract. */
  field: string;
  kind: ContractFindingKind;
  breaking: boolean;
  message: string;
}

export interface ContractCheckResult {
  breaking: ContractFinding[];
  /** Compatible changes and versions not snapshotted yet: run `contracts snapshot` to record them. */
  compatible: ContractFinding[];
}

export function checkContracts(
  snapshot: ContractSnapshot,
  current: Map<string, Map<number, AnyMessageContract>>,
): ContractCheckResult {
  const findings: ContractFinding[] = [];
  const add = (f: ContractFinding) => findings.push(f);
  for (const [type, versions] of Object.entries(snapshot.contracts)) {
    const now = current.get(type);
    const snapshotted = Object.keys(versions).map(Number);
    const next = Math.max(...snapshotted, ...(now ? [...now.keys()] : [])) + 1;
    for (const [key, recorded] of Object.entries(versions)) {
      const version = Number(key);
      const contract = now?.get(version);
      if (!contract) {
        add({
          type,
          version,
          field: '',
          kind: now ? 'version-removed' : 'contract-removed',
          breaking: true,
          message: `${type} v${version} was removed: consumers may still receive v${version} messages. Keep it (the newest version upcasts from it) until none can be in flight, then re-snapshot with --force`,
        });
        continue;
      }
      for (const c of compareSchemas(recorded.schema, jsonSchemaOf(contract))) {
        const where = c.path ? `field "${c.path}"` : 'the payload';
        add({
          type,
          version,
          field: c.path,
          kind: c.kind,
          breaking: c.breaking,
          message: c.breaking
            ? `${type} v${version}: ${where}: ${c.detail}. The schema of v${version} changed in place; keep v${version} as it was and add v${next} with an upcaster from v${version}`
            : `${type} v${version}: ${where}: ${c.detail} (compatible)`,
        });
      }
      if (recorded.upcastFrom !== null && contract.upcaster === undefined) {
        add({
          type,
          version,
          field: '',
          kind: 'upcaster-removed',
          breaking: true,
          message: `${type} v${version} no longer upcasts from v${recorded.upcastFrom}: consumers of v${version} cannot read v${recorded.upcastFrom} messages`,
        });
      }
    }
    for (const [version, contract] of now ?? []) {
      if (String(version) in versions) continue;
      const older = snapshotted.filter((v) => v < version);
      if (older.length > 0 && contract.upcaster === undefined) {
        const previous = Math.max(...older);
        add({
          type,
          version,
          field: '',
          kind: 'upcaster-missing',
          breaking: true,
          message: `${type} v${version} is new and has no upcaster: consumers that move to v${version} cannot read the v${previous} messages still in flight. Add upcast: { from: <v${previous} contract>, transform }`,
        });
      } else {
        add(versionAdded(type, version));
      }
    }
  }
  for (const [type, versions] of current) {
    if (type in snapshot.contracts) continue;
    for (const version of versions.keys()) {
      add(versionAdded(type, version));
    }
  }
  return { breaking: findings.filter((f) => f.breaking), compatible: findings.filter((f) => !f.breaking) };
}

function versionAdded(type: string, version: number): ContractFinding {
  return {
    type,
    version,
    field: '',
    kind: 'version-added',
    breaking: false,
    message: `${type} v${version} is new (not in the snapshot yet)`,
  };
}
