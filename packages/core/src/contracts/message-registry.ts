import { ConfigurationError, UnknownContractError } from '../errors/txbox-error.js';
import type { AnyMessageContract } from './define-message.js';

/** The outcome of reading a payload written under any known version of a contract. */
export interface ResolvedPayload<C extends AnyMessageContract = AnyMessageContract> {
  /** The newest registered contract of the type; `payload` is valid against it. */
  contract: C;
  payload: unknown;
  /** The version the payload was written with. */
  receivedVersion: number;
  /** True when the payload was upcast from an older version. */
  upcast: boolean;
}

/**
 * The set of contracts a writer may write, or a consumer may read. Registering a contract
 * also registers every older version reachable through its upcasters.
 */
export class MessageRegistry {
  readonly #byType = new Map<string, Map<number, AnyMessageContract>>();

  constructor(contracts: Iterable<AnyMessageContract> = []) {
    for (const contract of contracts) this.register(contract);
  }

  register(contract: AnyMessageContract): this {
    // Check the whole upcast chain before changing anything, so a refused registration
    // leaves the registry as it was.
    const chain: AnyMessageContract[] = [];
    for (let c: AnyMessageContract | undefined = contract; c; c = c.upcaster?.from) {
      const existing: AnyMessageContract | undefined = this.#byType.get(c.type)?.get(c.version);
      if (existing && existing !== c) {
        throw new ConfigurationError(
          'contracts',
          `two different contracts are registered as ${c.type} v${c.version}; define each version once and share it`,
        );
      }
      chain.push(c);
    }
    for (const c of chain) {
      let versions = this.#byType.get(c.type);
      if (!versions) {
        versions = new Map();
        this.#byType.set(c.type, versions);
      }
      versions.set(c.version, c);
    }
    return this;
  }

  has(contract: AnyMessageContract): boolean {
    return this.#byType.get(contract.type)?.get(contract.version) === contract;
  }

  /** The newest registered version of a type, or undefined. */
  latest(type: string): AnyMessageContract | undefined {
    const versions = this.#byType.get(type);
    if (!versions) return undefined;
    let newest: AnyMessageContract | undefined;
    for (const c of versions.values()) if (!newest || c.version > newest.version) newest = c;
    return newest;
  }

  types(): string[] {
    return [...this.#byType.keys()];
  }

  /**
   * Validates a payload written as `type` v`version` and upcasts it, step by step, to the
   * newest registered version, validating at every step.
   * @throws UnknownContractError when the type or version is not registered.
   * @throws PayloadValidationError when the payload fails a schema.
   */
  resolve(type: string, version: number, payload: unknown): ResolvedPayload {
    const versions = this.#byType.get(type);
    if (!versions) {
      throw new UnknownContractError(type, version, `No contract is registered for message type "${type}"`);
    }
    const written = versions.get(version);
    const latest = this.latest(type) as AnyMessageContract;
    if (!written) {
      throw new UnknownContractError(
        type,
        version,
        `Message type "${type}" has no contract for version ${version} (known: ${[...versions.keys()].sort((a, b) => a - b).join(', ')})`,
      );
    }
    // Walk from the newest contract back to the written one, then apply upcasters forward.
    const chain: AnyMessageContract[] = [];
    for (let c: AnyMessageContract | undefined = latest; c && c !== written; c = c.upcaster?.from) chain.unshift(c);
    if (chain.length > 0 && chain[0]?.upcaster?.from !== written) {
      throw new UnknownContractError(
        type,
        version,
        `Message type "${type}" v${version} cannot be upcast to v${latest.version}: no upcaster chain connects them`,
      );
    }
    let value: unknown = written.parse(payload);
    for (const step of chain) {
      value = step.parse(step.upcaster?.transform(value));
    }
    return { contract: latest, payload: value, receivedVersion: version, upcast: chain.length > 0 };
  }
}
