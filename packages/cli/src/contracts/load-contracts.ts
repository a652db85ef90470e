// Finds the contracts a module exports: any exported contract, array of contracts or object whose
// values are contracts, plus every older version reachable through their upcasters.
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AnyMessageContract, ConfigurationError, isMessageContract } from '@txbox/core';

function resolveModule(specifier: string, cwd: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return pathToFileURL(resolve(cwd, specifier)).href;
  try {
    // A package name (e.g. a shared contracts package), resolved from the working directory.
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve(specifier)).href;
  } catch (cause) {
    throw new ConfigurationError('contracts.module', `cannot find module ${JSON.stringify(specifier)} from ${cwd}`, {
      cause,
    });
  }
}

function collect(value: unknown, into: AnyMessageContract[]): void {
  if (isMessageContract(value)) into.push(value);
  else if (Array.isArray(value))
    for (const item of value)
      if (isMessageContract(item)) into.push(item);
      else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
        for (const item of Object.values(value)) if (isMessageContract(item)) into.push(item);
      }
}

/** Every contract version of the modules, keyed `type` → `version`; two different definitions of one version are refused. */
export async function loadContracts(
  specifiers: readonly string[],
  cwd: string,
): Promise<Map<string, Map<number, AnyMessageContract>>> {
  const found: AnyMessageContract[] = [];
  for (const specifier of specifiers) {
    const loaded = (await import(resolveModule(specifier, cwd))) as Record<string, unknown>;
    for (const value of Object.values(loaded)) collect(value, found);
    // A CommonJS module's exports arrive as `default` too.
    if (loaded.default && typeof loaded.default === 'object')
      for (const v of Object.values(loaded.default)) collect(v, found);
  }
  const byType = new Map<string, Map<number, AnyMessageContract>>();
  for (const start of found) {
    for (let c: AnyMessageContract | undefined = start; c; c = c.upcaster?.from) {
      const versions: Map<number, AnyMessageContract> = byType.get(c.type) ?? new Map();
      byType.set(c.type, versions);
      const existing: AnyMessageContract | undefined = versions.get(c.version);
      if (existing && existing !== c) {
        throw new ConfigurationError(
          'contracts',
          `${c.type} v${c.version} is defined twice; define each version once and share it`,
        );
      }
      versions.set(c.version, c);
    }
  }
  if (byType.size === 0) {
    throw new ConfigurationError('contracts.module', `no contracts exported by ${specifiers.join(', ')}`);
  }
  return byType;
}
